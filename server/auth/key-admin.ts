/**
 * Key administration shared by the admin HTTP routes (server/http/key-routes.ts) and RPCs
 * (server/grpc/key-handlers.ts), so both do exactly the same: create (the token is returned
 * once, only the hash is stored), list, revoke. Each transport only translates its wire shape.
 */
import { EngramError } from '../../engine/index.ts';
import {
  expiryFromDuration,
  isKeyId,
  mintApiKey,
  type ApiKeyRecord,
  type Permission,
} from './api-key.ts';
import type { KeyStore } from './key-store.ts';

export interface CreateKeyInput {
  name: string;
  spaces: readonly string[];
  permissions: readonly Permission[];
  /** A duration such as "30d" (give this or expiresAt, not both). */
  expiresIn?: string | undefined;
  /** An ISO time in the future. */
  expiresAt?: string | undefined;
}

/** The store, or ENG_NOT_IMPLEMENTED when the server was started without one. */
export function requireKeyStore(store: KeyStore | undefined): KeyStore {
  if (!store) {
    throw new EngramError('ENG_NOT_IMPLEMENTED', 'This server has no API key store configured');
  }
  return store;
}

/** Mints and stores a key; the token is in this answer and nowhere else. */
export async function createKey(
  store: KeyStore | undefined,
  input: CreateKeyInput,
): Promise<{ record: ApiKeyRecord; token: string }> {
  const target = requireKeyStore(store);
  if (input.expiresIn !== undefined && input.expiresAt !== undefined) {
    throw new EngramError('ENG_KEY_INVALID', 'Give expires_in or expires_at, not both');
  }
  const expiresAt =
    input.expiresIn === undefined ? (input.expiresAt ?? null) : expiryFromDuration(input.expiresIn);
  const minted = await mintApiKey({
    name: input.name,
    spaces: input.spaces,
    permissions: input.permissions,
    expiresAt,
  });
  await target.add(minted.record);
  return minted;
}

export function listKeys(store: KeyStore | undefined): Promise<ApiKeyRecord[]> {
  return requireKeyStore(store).list();
}

/** Revokes the key at once (the next call with it is refused); ENG_KEY_NOT_FOUND when unknown. */
export function revokeKey(store: KeyStore | undefined, id: string): Promise<ApiKeyRecord> {
  const target = requireKeyStore(store);
  if (!isKeyId(id)) throw new EngramError('ENG_KEY_NOT_FOUND', `No API key "${id}"`);
  return target.revoke(id);
}
