import type { FastifyInstance } from 'fastify';
import { after } from 'node:test';
import { Registry, type EngineOptions, type ServedEngine } from '../../engine/index.ts';
import type { HttpSettings } from '../../server/http/context.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { tempDir } from './temp-dir.ts';

/** The backend-neutral part of TestApi: what apiOver() gives for any engine. */
export type EngineApi = Omit<TestApi, 'registry'>;

export interface TestApi {
  app: FastifyInstance;
  /** The engine behind the app, whichever backend it is. */
  engine: ServedEngine;
  /** The embedded backend's registry (testApi only). */
  registry: Registry;
  call(
    method: string,
    url: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any }>;
}

/** A fastify app over a real registry in a temp dir, closed after the test file. */
export async function testApi(
  settings: Partial<HttpSettings> = {},
  engine: Partial<EngineOptions> = {},
): Promise<TestApi> {
  const registry = await Registry.open({ dataRoot: await tempDir(), ...engine });
  return { ...apiOver(registry, settings), registry };
}

/** A fastify app over `engine`; the app and the engine are closed after the test file. */
export function apiOver(engine: ServedEngine, settings: Partial<HttpSettings> = {}): EngineApi {
  const app = buildHttpApp({ engine, logger: false, settings });
  after(async () => {
    await app.close();
    await engine.close();
  });
  return {
    app,
    engine,
    async call(method, url, options = {}) {
      const response = await app.inject({
        method: method as 'GET',
        url,
        ...(options.body === undefined ? {} : { payload: options.body as object }),
        headers: options.headers ?? {},
      });
      return {
        status: response.statusCode,
        body: response.body === '' ? undefined : (JSON.parse(response.body) as unknown),
      };
    },
  };
}
