import type { FastifyInstance } from 'fastify';
import { after } from 'node:test';
import { Registry, type EngineOptions } from '../../engine/index.ts';
import type { HttpSettings } from '../../server/http/context.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { tempDir } from './temp-dir.ts';

export interface TestApi {
  app: FastifyInstance;
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
  const app = buildHttpApp({ registry, logger: false, settings });
  after(async () => {
    await app.close();
    await registry.close();
  });
  return {
    app,
    registry,
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
