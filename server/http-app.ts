/** The HTTP front end (fastify): JSON under /api/v1, one error shape everywhere. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { EngramError, type ServedEngine } from '../engine/index.ts';
import { toHttpError } from './errors.ts';
import { HTTP_DEFAULTS, HttpContext, type HttpSettings } from './http/context.ts';
import { memoryRoutes } from './http/memory-routes.ts';
import { spaceRoutes } from './http/space-routes.ts';
import { streamRoutes } from './http/stream-routes.ts';
import { metricsRoutes } from './http/metrics.ts';
import { consolidationRoutes } from './http/consolidation-routes.ts';
import { backupRoutes } from './http/backup-routes.ts';
import { transferRoutes } from './http/transfer-routes.ts';
import { keyRoutes } from './http/key-routes.ts';
import { installHttpSecurity, type SecuritySettings } from './auth/http-security.ts';

export interface HttpAppOptions {
  engine: ServedEngine;
  logger: FastifyBaseLogger | false;
  settings?: Partial<HttpSettings>;
  /** Authentication, CORS, rate limits (server/auth/http-security.ts); default: auth off. */
  security?: Partial<SecuritySettings>;
}

/** fastify's own client errors, turned into catalogue codes. */
function clientError(error: FastifyError): EngramError | undefined {
  if (error.validation) {
    const first = error.validation[0];
    const unknown = (first?.params as { additionalProperty?: string } | undefined)
      ?.additionalProperty;
    const where = `${error.validationContext ?? 'request'}${first?.instancePath ?? ''}`;
    return new EngramError(
      'ENG_REQUEST_INVALID',
      unknown === undefined
        ? `Invalid request: ${error.message}`
        : `Unknown field "${unknown}" in ${where}`,
      { details: { field: unknown ?? first?.instancePath ?? null } },
    );
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new EngramError('ENG_BODY_TOO_LARGE', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new EngramError('ENG_REQUEST_INVALID', error.message);
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? new EngramError('ENG_REQUEST_INVALID', error.message)
        : undefined;
  }
}

const MAX_PATH_PARAM_CHARS = 3 * 4096;

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const settings = Object.freeze({ ...HTTP_DEFAULTS, ...options.settings });
  const app = Fastify({
    ...(options.logger === false ? {} : { loggerInstance: options.logger }),
    bodyLimit: settings.bodyLimitBytes,
    // Memory ids may be longer than fastify's default of 100 characters per path parameter
    // (maxMemoryIdChars is at most 4096; percent-encoding may triple that): the engine's own
    // validation answers ids that are too long, with its code.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_CHARS },
    // Errors the router raises before any route runs (a malformed URL, a path parameter over
    // the bound) get the same error shape as everything else, without echoing the URL.
    frameworkErrors: (error, _request, reply) => {
      const mapped = toHttpError(
        new EngramError(
          'ENG_REQUEST_INVALID',
          error.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? `A path parameter is longer than ${MAX_PATH_PARAM_CHARS} characters`
            : 'The request URL is malformed',
        ),
      );
      void (reply as FastifyReply).status(mapped.status).send(mapped.body);
    },
  }) as unknown as FastifyInstance;
  // Connections beyond the bound are closed by node on accept (the node server exists already).
  app.server.maxConnections = settings.maxConnections;
  // Unknown fields are errors (ajv must not quietly strip them). Query strings and path
  // parameters arrive as text and are coerced ("5" -> 5); JSON bodies are not ({"content": 42}
  // is an error, not the string "42").
  const strict = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: true });
  const coercing = new Ajv({ removeAdditional: false, coerceTypes: 'array', useDefaults: true });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );
  const ctx = new HttpContext(options.engine, settings);
  // Before any route: the auth hooks, headers and limits cover every route registered below.
  const security = installHttpSecurity(app, options.security ?? {}, settings.defaultSpace);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const engineError = error instanceof EngramError ? error : clientError(error);
    const mapped = toHttpError(engineError ?? error);
    if (mapped.internal) request.log.error({ err: error }, 'request failed');
    return reply.status(mapped.status).send(mapped.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const mapped = toHttpError(
      new EngramError(
        'ENG_ROUTE_NOT_FOUND',
        `No route ${request.method} ${request.url.split('?')[0]}`,
      ),
    );
    return reply.status(mapped.status).send(mapped.body);
  });

  // The OpenAPI document is generated from the route schemas: swagger is registered first, and
  // the routes in a plugin after it, so its onRoute hook sees every one of them.
  void app.register(swagger, {
    openapi: {
      info: {
        title: 'Engram HTTP API',
        version: '1',
        description: 'Memory spaces for AI agents. See docs/http.md.',
      },
    },
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });
  void app.register((instance, _opts, done) => {
    memoryRoutes(instance, ctx);
    spaceRoutes(instance, ctx);
    streamRoutes(instance, ctx);
    metricsRoutes(instance, ctx);
    consolidationRoutes(instance, ctx);
    backupRoutes(instance, ctx);
    transferRoutes(instance, ctx);
    keyRoutes(instance, security.auth.store);
    instance.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
    done();
  });
  return app;
}
