/**
 * A server world for the authentication tests: a real registry and key file in a temp dir,
 * spaces "alpha" (the caller's) and "bravo" (someone else's, holding secrets and a backup),
 * keys of every shape, and the HTTP app (fastify.inject) and gRPC server (127.0.0.1:0) over
 * them with auth_mode = "api_key". Everything is closed after the test file.
 */
import { after } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { BackupStore, Registry } from '../../engine/index.ts';
import { mintApiKey, type NewApiKey, type Permission } from '../../server/auth/api-key.ts';
import { Authenticator } from '../../server/auth/authenticator.ts';
import { FileKeyStore } from '../../server/auth/file-key-store.ts';
import type { SecuritySettings } from '../../server/auth/http-security.ts';
import { GrpcServer } from '../../server/grpc/grpc-server.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { GrpcClient } from '../../client/grpc-client.ts';
import { tempDir } from './temp-dir.ts';

/** What belongs to bravo and must never reach a caller limited to alpha. */
export const BRAVO = Object.freeze({
  space: 'bravo',
  targetId: 'bravo-target-id',
  hiddenId: 'bravo-hidden-id',
  targetContent: 'BRAVO-SECRET: the vault code is 7734',
  hiddenContent: 'BRAVO-PRIVATE: payroll moves on friday',
});

/** Texts that must not appear in any answer given to a caller limited to alpha. */
export const BRAVO_LEAKS: readonly RegExp[] = [
  /BRAVO-SECRET|vault code|7734/,
  /BRAVO-PRIVATE|payroll/,
  /bravo-hidden-id/,
];

export interface AuthWorld {
  dataRoot: string;
  registry: Registry;
  store: FileKeyStore;
  auth: Authenticator;
  /** Name of a backup of bravo on the server. */
  bravoBackup: string;
  /** A key with read, write and admin on alpha only. */
  alphaKey: string;
  /** Admin on every space. */
  rootKey: string;
  /** A new key (token and id). */
  key(input: Partial<NewApiKey>): Promise<{ token: string; id: string }>;
  http(
    security?: Partial<SecuritySettings>,
  ): Promise<FastifyInstance & { routesSeen: RouteOptions[] }>;
  grpc(security?: { rateLimitMax?: number; rateLimitWindowMs?: number }): Promise<{
    server: GrpcServer;
    connect(apiKey?: string): GrpcClient;
  }>;
}

export async function authWorld(): Promise<AuthWorld> {
  const dataRoot = await tempDir('engram-auth-');
  const registry = await Registry.open({ dataRoot });
  const store = FileKeyStore.forDataRoot(dataRoot);
  const auth = new Authenticator('api_key', store);
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
    await registry.close();
  });

  for (const space of ['alpha', BRAVO.space])
    await registry.createSpace(space, { embedder: 'hash' });
  const alpha = await registry.space('alpha');
  await alpha.remember({ id: 'alpha-1', content: 'alpha note one' });
  const bravo = await registry.space(BRAVO.space);
  await bravo.remember({ id: BRAVO.targetId, content: BRAVO.targetContent });
  await bravo.remember({ id: BRAVO.hiddenId, content: BRAVO.hiddenContent });
  await bravo.associate(BRAVO.targetId, BRAVO.hiddenId, 1);
  const bravoBackup = (await new BackupStore(registry.location).create(bravo)).name;

  const key = async (input: Partial<NewApiKey>) => {
    const { record, token } = await mintApiKey({
      name: 'test',
      spaces: ['alpha'],
      permissions: ['read', 'write', 'admin'] as Permission[],
      ...input,
    });
    await store.add(record);
    return { token, id: record.id };
  };

  return {
    dataRoot,
    registry,
    store,
    auth,
    bravoBackup,
    alphaKey: (await key({})).token,
    rootKey: (await key({ spaces: ['*'] })).token,
    key,
    async http(security = {}) {
      const app = buildHttpApp({
        engine: registry,
        logger: false,
        security: { auth, ...security },
      }) as FastifyInstance & { routesSeen: RouteOptions[] };
      app.routesSeen = [];
      // Added before ready(): the route plugins run at ready(), so every route passes here.
      app.addHook('onRoute', (route) => void app.routesSeen.push(route));
      await app.ready();
      closers.push(() => app.close());
      return app;
    },
    async grpc(security = {}) {
      const server = await GrpcServer.start({
        engine: registry,
        host: '127.0.0.1',
        port: 0,
        security: { auth, rateLimitMax: 0, rateLimitWindowMs: 60_000, ...security },
      });
      const clients: GrpcClient[] = [];
      closers.push(async () => {
        for (const client of clients) client.close();
        await server.close();
      });
      return {
        server,
        connect(apiKey?: string) {
          const client = new GrpcClient({
            target: server.target,
            ...(apiKey === undefined ? {} : { apiKey }),
          });
          clients.push(client);
          return client;
        },
      };
    },
  };
}
