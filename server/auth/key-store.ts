/**
 * Where API keys live, behind one interface so the server and the CLI share it and another
 * backend (a database table) can replace the file. Every read is fresh: a revocation is seen by
 * the next request, never after a cache window.
 */
import type { ApiKeyRecord } from './api-key.ts';

export interface KeyStore {
  /** The key with this id as stored now (revoked and expired keys included), or undefined. */
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  add(record: ApiKeyRecord): Promise<void>;
  /** Marks the key revoked (keeping its record); ENG_KEY_NOT_FOUND when there is none. */
  revoke(id: string, at?: Date): Promise<ApiKeyRecord>;
}
