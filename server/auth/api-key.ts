/**
 * API keys: what a key is (id, name, allowed spaces, permissions, expiry, revocation), the
 * token format `engram_<id>_<secret>` (the id is readable so a key is found without scanning),
 * and the secret's hash: scrypt with a random salt, compared with timingSafeEqual. Only the hash
 * is ever stored; the token is shown once, when the key is created.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { EngramError, parseSpaceId } from '../../engine/index.ts';

export const PERMISSIONS = ['read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Every space, present and future. */
export const ALL_SPACES = '*';

export interface ApiKeyHash {
  algorithm: 'scrypt';
  /** scrypt cost parameters, kept per key so they can be raised without breaking old keys. */
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** Space ids, or ['*'] for every space. */
  spaces: readonly string[];
  permissions: readonly Permission[];
  createdAt: string;
  /** ISO time after which the key is refused, or null. */
  expiresAt: string | null;
  revokedAt: string | null;
  secret: ApiKeyHash;
}

export interface NewApiKey {
  name: string;
  spaces: readonly string[];
  permissions: readonly Permission[];
  expiresAt?: string | null;
}

export const API_KEY_LIMITS = Object.freeze({
  nameCharsMax: 128,
  spacesMax: 1000,
});

const TOKEN_PREFIX = 'engram_';
const ID_BYTES = 8;
const SECRET_BYTES = 32;
const TOKEN_PATTERN = /^engram_([0-9a-f]{16})_([0-9a-f]{64})$/;
/** scrypt's recommended interactive cost; about 30-60 ms here, cached per verified token. */
const SCRYPT = Object.freeze({ N: 16_384, r: 8, p: 1, keyBytes: 32 });

function scryptAsync(secret: string, salt: Buffer, keyBytes: number, options: ScryptOptions) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, salt, keyBytes, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/** The key id and secret of a token, or undefined when it is not of the form engram_<id>_<secret>. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

export function isKeyId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id);
}

export async function hashSecret(secret: string): Promise<ApiKeyHash> {
  const salt = randomBytes(16);
  const { N, r, p, keyBytes } = SCRYPT;
  const hash = await scryptAsync(secret, salt, keyBytes, { N, r, p });
  return {
    algorithm: 'scrypt',
    N,
    r,
    p,
    salt: salt.toString('base64'),
    hash: hash.toString('base64'),
  };
}

export async function verifySecret(secret: string, stored: ApiKeyHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const actual = await scryptAsync(secret, Buffer.from(stored.salt, 'base64'), expected.length, {
    N: stored.N,
    r: stored.r,
    p: stored.p,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function invalid(message: string): EngramError {
  return new EngramError('ENG_KEY_INVALID', message);
}

/** Checks a new key's fields: a name, known permissions, valid space ids or '*', a future expiry. */
export function validateNewKey(input: NewApiKey, now = Date.now()): NewApiKey {
  const name = input.name.trim();
  if (name === '' || name.length > API_KEY_LIMITS.nameCharsMax) {
    throw invalid(`A key name is 1 to ${API_KEY_LIMITS.nameCharsMax} characters`);
  }
  if (input.permissions.length === 0) {
    throw invalid(`A key needs at least one permission of ${PERMISSIONS.join(', ')}`);
  }
  for (const permission of input.permissions) {
    if (!PERMISSIONS.includes(permission)) {
      throw invalid(`Unknown permission ${JSON.stringify(permission)} (${PERMISSIONS.join(', ')})`);
    }
  }
  if (input.spaces.length === 0 || input.spaces.length > API_KEY_LIMITS.spacesMax) {
    throw invalid(`A key names 1 to ${API_KEY_LIMITS.spacesMax} spaces, or "*"`);
  }
  const all = input.spaces.includes(ALL_SPACES);
  if (all && input.spaces.length > 1) throw invalid('"*" (every space) stands alone');
  const spaces = all ? [ALL_SPACES] : [...new Set(input.spaces.map((s) => parseSpaceId(s)))];
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && !(Date.parse(expiresAt) > now)) {
    throw invalid(`The expiry ${JSON.stringify(expiresAt)} is not a time in the future`);
  }
  return {
    name,
    spaces,
    permissions: [...new Set(input.permissions)],
    expiresAt: expiresAt === null ? null : new Date(Date.parse(expiresAt)).toISOString(),
  };
}

/** A new key: the record to store (hashed) and the token, which exists only in this answer. */
export async function mintApiKey(
  input: NewApiKey,
  now = Date.now(),
): Promise<{ record: ApiKeyRecord; token: string }> {
  const valid = validateNewKey(input, now);
  const id = randomBytes(ID_BYTES).toString('hex');
  const secret = randomBytes(SECRET_BYTES).toString('hex');
  const record: ApiKeyRecord = {
    id,
    name: valid.name,
    spaces: valid.spaces,
    permissions: valid.permissions,
    createdAt: new Date(now).toISOString(),
    expiresAt: valid.expiresAt ?? null,
    revokedAt: null,
    secret: await hashSecret(secret),
  };
  return { record, token: `${TOKEN_PREFIX}${id}_${secret}` };
}

const UNITS_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30d", "12h", "90m" -> the ISO time that long after `now`. */
export function expiryFromDuration(text: string, now = Date.now()): string {
  const match = /^(\d{1,6})([mhd])$/.exec(text.trim());
  if (!match || Number(match[1]) === 0) {
    throw invalid(`Expiry ${JSON.stringify(text)} is not a duration like 90m, 12h or 30d`);
  }
  return new Date(now + Number(match[1]) * UNITS_MS[match[2]!]!).toISOString();
}

/** A key as the API and `engram keys --json` show it: everything but the hash. */
export function keyToWire(key: ApiKeyRecord): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    spaces: key.spaces,
    permissions: key.permissions,
    created_at: key.createdAt,
    expires_at: key.expiresAt,
    revoked_at: key.revokedAt,
  };
}
