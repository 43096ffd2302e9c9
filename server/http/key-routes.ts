/**
 * /api/v1/keys: create, list and revoke API keys over HTTP (admin permission on every space,
 * see server/auth/route-policy.ts). The token is in the create answer and nowhere else; a
 * revocation is seen by the next request (the store is read fresh each time).
 */
import type { FastifyInstance } from 'fastify';
import { keyToWire, PERMISSIONS, type Permission } from '../auth/api-key.ts';
import { createKey, listKeys, revokeKey } from '../auth/key-admin.ts';
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

export function keyRoutes(app: FastifyInstance, store: KeyStore | undefined): void {
  app.post('/api/v1/keys', { schema: { body: createBody } }, async (request, reply) => {
    const body = request.body as {
      name: string;
      spaces: string[];
      permissions: Permission[];
      expires_in?: string;
      expires_at?: string;
    };
    const { record, token } = await createKey(store, {
      name: body.name,
      spaces: body.spaces,
      permissions: body.permissions,
      expiresIn: body.expires_in,
      expiresAt: body.expires_at,
    });
    return reply.status(201).send({ key: token, ...keyToWire(record) });
  });

  app.get('/api/v1/keys', async () => ({
    keys: (await listKeys(store)).map((key) => keyToWire(key)),
  }));

  app.delete('/api/v1/keys/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params as { id: string };
    return keyToWire(await revokeKey(store, id));
  });
}
