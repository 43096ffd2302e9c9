/**
 * The HTTP front end (fastify). Today it serves liveness and readiness; the memory routes of
 * the external contract answer 501 ENG_NOT_IMPLEMENTED until the HTTP API issue lands them.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { EngramError, type Registry } from '../engine/index.ts';
import { toHttpError } from './errors.ts';

export interface HttpAppOptions {
  registry: Registry;
  logger: FastifyBaseLogger | false;
  bodyLimitBytes?: number;
}

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger === false ? undefined : options.logger,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  const { registry } = options;

  app.setErrorHandler((error, request, reply) => {
    const mapped = error instanceof EngramError ? toHttpError(error) : undefined;
    if (mapped) {
      if (mapped.internal) request.log.error({ err: error }, 'request failed');
      return reply.status(mapped.status).send(mapped.body);
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply
        .status(status)
        .send({ error: { code: 'ENG_BAD_REQUEST', message: (error as Error).message } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(toHttpError(error).body);
  });

  app.get('/health', () => ({ status: 'ok' }));

  app.get('/health/ready', (_request, reply) => {
    const { spaces, skipped } = registry.discovery;
    return reply.send({ status: 'ready', spaces, skipped: skipped.length });
  });

  app.all('/api/v1/*', () => {
    throw new EngramError(
      'ENG_NOT_IMPLEMENTED',
      'The /api/v1 routes are not implemented in this build yet',
    );
  });

  return app;
}
