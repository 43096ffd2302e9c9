/**
 * Turns an Authorization value into an Access, the same for HTTP and gRPC. Each failure has its
 * own code (missing, malformed, unknown, expired, revoked: all unauthenticated, 401), distinct
 * from what a valid key may not do (permission_denied, 403). The key record is read from the
 * store on every request, so revocation and expiry apply at once; only the scrypt result of a
 * token already verified against the same stored hash is remembered (bounded), because scrypt is
 * deliberately slow.
 */
import { createHash } from 'node:crypto';
import { EngramError } from '../../engine/index.ts';
import { Access } from './access.ts';
import { parseToken, verifySecret, type ApiKeyRecord, type Permission } from './api-key.ts';
import type { KeyStore } from './key-store.ts';

export const AUTH_MODES = ['none', 'api_key'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

const VERIFIED_CACHE_MAX = 10_000;

export class Authenticator {
  /** sha256(token) + stored hash, for tokens scrypt already accepted. */
  private readonly verified = new Set<string>();

  constructor(
    readonly mode: AuthMode,
    readonly store: KeyStore | undefined,
    private readonly now: () => number = Date.now,
  ) {
    if (mode === 'api_key' && !store) throw new Error('auth_mode "api_key" needs a key store');
  }

  /** No authentication: every request gets full access. */
  static none(): Authenticator {
    return new Authenticator('none', undefined);
  }

  get enabled(): boolean {
    return this.mode === 'api_key';
  }

  /** The key behind an Authorization header value (undefined: none sent). */
  async authenticate(header: string | undefined): Promise<ApiKeyRecord> {
    if (header === undefined || header === '') {
      throw new EngramError(
        'ENG_AUTH_REQUIRED',
        'This server needs an API key: send Authorization: Bearer <key>',
      );
    }
    const match = /^Bearer +(\S+)$/i.exec(header.trim());
    const parsed = match ? parseToken(match[1]!) : undefined;
    if (!parsed) {
      throw new EngramError(
        'ENG_AUTH_MALFORMED',
        'The Authorization value is not "Bearer engram_<id>_<secret>"',
      );
    }
    const key = await this.store!.get(parsed.id);
    if (!key || !(await this.secretMatches(match![1]!, parsed.secret, key))) {
      throw new EngramError('ENG_AUTH_KEY_UNKNOWN', 'Unknown API key, or a wrong secret');
    }
    if (key.revokedAt !== null) {
      throw new EngramError('ENG_AUTH_KEY_REVOKED', `API key "${key.id}" was revoked`);
    }
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= this.now()) {
      throw new EngramError(
        'ENG_AUTH_KEY_EXPIRED',
        `API key "${key.id}" expired at ${key.expiresAt}`,
      );
    }
    return key;
  }

  /** What a request with this header may do for a call needing `permission`. */
  async access(header: string | undefined, permission: Permission): Promise<Access> {
    if (!this.enabled) return Access.open(permission);
    return Access.forKey(await this.authenticate(header), permission);
  }

  private async secretMatches(token: string, secret: string, key: ApiKeyRecord): Promise<boolean> {
    const memo = `${createHash('sha256').update(token).digest('hex')}:${key.secret.hash}`;
    if (this.verified.has(memo)) return true;
    if (!(await verifySecret(secret, key.secret))) return false;
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
    this.verified.add(memo);
    return true;
  }
}
