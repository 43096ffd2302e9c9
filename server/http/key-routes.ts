/**
 * /api/v1/keys: create, list and revoke API keys over HTTP (admin permission on every space,
 * see server/auth/route-policy.ts). The token is in the create answer and nowhere else; a
 * revocation is seen by the next request (the store is read fresh each time).
 */
import type { FastifyInstance } from 'fastify';
import { EngramError } from '../../engine/index.ts';
import {
  expiryFromDuration,
  isKeyId,
  keyToWire,
  mintApiKey,
  PERMISSIONS,
  type Permission,
} from '../auth/api-key.ts';
import type { KeyStore } from '../auth/key-store.ts';

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'spaces', 'permissions'],
  properties: {
    name: { type: 'string', maxLength: 128 },
    spaces: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 1000 },
    permissions: {
      type: 'array',
      items: { type: 'string', enum: [...PERMISSIONS] },
      maxItems: PERMISSIONS.length,
    },
    expires_in: { type: 'string', maxLength: 16 },
    expires_at: { type: 'string', maxLength: 64 },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

function storeOf(store: KeyStore | undefined): KeyStore {
  if (!store) {
    throw new EngramError('ENG_NOT_IMPLEMENTED', 'This server has no API key store configured');
  }
  return store;
}

export function keyRoutes(app: FastifyInstance, store: KeyStore | undefined): void {
  app.post('/api/v1/keys', { schema: { body: createBody } }, async (request, reply) => {
    const body = request.body as {
      name: string;
      spaces: string[];
      permissions: Permission[];
      expires_in?: string;
      expires_at?: string;
    };
    if (body.expires_in !== undefined && body.expires_at !== undefined) {
      throw new EngramError('ENG_KEY_INVALID', 'Give expires_in or expires_at, not both');
    }
    const expiresAt =
      body.expires_in === undefined
        ? (body.expires_at ?? null)
        : expiryFromDuration(body.expires_in);
    const { record, token } = await mintApiKey({ ...body, expiresAt });
    await storeOf(store).add(record);
    return reply.status(201).send({ key: token, ...keyToWire(record) });
  });

  app.get('/api/v1/keys', async () => ({
    keys: (await storeOf(store).list()).map((key) => keyToWire(key)),
  }));

  app.delete('/api/v1/keys/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params as { id: string };
    if (!isKeyId(id)) throw new EngramError('ENG_KEY_NOT_FOUND', `No API key "${id}"`);
    return keyToWire(await storeOf(store).revoke(id));
  });
}
