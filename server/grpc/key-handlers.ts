/**
 * The key administration RPCs: CreateApiKey, ListApiKeys, RevokeApiKey. They do what
 * /api/v1/keys does (the logic is shared in server/auth/key-admin.ts); the guard
 * (server/auth/grpc-auth.ts) lets only a key with admin on every space ("*") reach them.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type {
  ApiKey,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  ListApiKeysRequest,
  ListApiKeysResponse,
  RevokeApiKeyRequest,
  RevokeApiKeyResponse,
} from '../../proto/engram/v1/messages.ts';
import { fromTimestamp, toTimestamp } from '../../proto/engram/v1/well-known.ts';
import type { ApiKeyRecord, Permission } from '../auth/api-key.ts';
import { createKey, listKeys, revokeKey } from '../auth/key-admin.ts';
import type { KeyStore } from '../auth/key-store.ts';
import type { GrpcContext } from './grpc-context.ts';
import { unaryCall } from './unary-call.ts';

const time = (iso: string | null) => (iso === null ? {} : toTimestamp(Date.parse(iso)));

/** A key as the RPCs show it: everything but the hash (absent times are left out). */
export function apiKeyToWire(key: ApiKeyRecord): ApiKey {
  return {
    id: key.id,
    name: key.name,
    spaces: [...key.spaces],
    permissions: [...key.permissions],
    created_at: toTimestamp(Date.parse(key.createdAt)),
    ...(key.expiresAt === null ? {} : { expires_at: time(key.expiresAt) }),
    ...(key.revokedAt === null ? {} : { revoked_at: time(key.revokedAt) }),
  };
}

export function keyHandlers(
  ctx: GrpcContext,
  store: KeyStore | undefined,
): UntypedServiceImplementation {
  return {
    CreateApiKey: unaryCall<CreateApiKeyRequest, CreateApiKeyResponse>(
      ctx,
      'CreateApiKey',
      async ({ request }) => {
        const { record, token } = await createKey(store, {
          name: request.name ?? '',
          spaces: request.spaces ?? [],
          // validateNewKey refuses any string that is not a permission (ENG_KEY_INVALID).
          permissions: (request.permissions ?? []) as Permission[],
          expiresIn: request.expires_in || undefined,
          expiresAt:
            request.expires_at === undefined
              ? undefined
              : new Date(fromTimestamp(request.expires_at)).toISOString(),
        });
        return { key: token, api_key: apiKeyToWire(record) };
      },
    ),

    ListApiKeys: unaryCall<ListApiKeysRequest, ListApiKeysResponse>(
      ctx,
      'ListApiKeys',
      async () => ({ keys: (await listKeys(store)).map(apiKeyToWire) }),
    ),

    RevokeApiKey: unaryCall<RevokeApiKeyRequest, RevokeApiKeyResponse>(
      ctx,
      'RevokeApiKey',
      async ({ request }) => ({ api_key: apiKeyToWire(await revokeKey(store, request.id ?? '')) }),
    ),
  };
}
