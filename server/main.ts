/** Starts the engine and its front ends (HTTP and gRPC); owns the root pino logger. */
import { resolve } from 'node:path';
import { format } from 'node:util';
import { setLogger as setGrpcLogger } from '@grpc/grpc-js';
import pino, { type Logger as PinoLogger } from 'pino';
import {
  DEFAULT_DATA_ROOT,
  expandHome,
  Registry,
  openPostgresEngine,
  type EngineOptions,
  type Logger,
  type PostgresEngineOptions,
  type RegistryDeps,
  type ServedEngine,
} from '../engine/index.ts';
import { buildHttpApp } from './http-app.ts';
import { Authenticator, type AuthMode } from './auth/authenticator.ts';
import { FileKeyStore } from './auth/file-key-store.ts';
import type { KeyStore } from './auth/key-store.ts';
import { assertSafeListen } from './auth/listen-guard.ts';
import type { HttpSettings } from './http/context.ts';
import { GrpcServer } from './grpc/grpc-server.ts';
import type { GrpcSettings } from './grpc/grpc-settings.ts';

export interface ServerOptions {
  /** The embedded backend's options (data root, durability, capacities...). */
  engine: Partial<EngineOptions>;
  /** When given, the server runs on PostgreSQL + pgvector instead of the embedded backend. */
  postgres?: Partial<PostgresEngineOptions>;
  /** HTTP address. */
  host: string;
  /** HTTP port; 0 picks a free one. */
  port: number;
  /** gRPC address; default: the same as `host`. */
  grpcHost?: string;
  /** gRPC port (default 50051); 0 picks a free one (the chosen port is logged and returned). */
  grpcPort?: number;
  logLevel: string;
  /**
   * HTTP settings. The ones that are product behaviour rather than HTTP detail (default space,
   * auto-creation, default embedder, event-stream limits) apply to gRPC as well.
   */
  http?: Partial<HttpSettings>;
  /** gRPC settings; they win over what `http` carries over. */
  grpc?: Partial<GrpcSettings>;
  /** Embedders beyond the built-in "hash", by name (Registry.open deps). */
  embedders?: RegistryDeps['embedders'];
  /** Runs once the engine is open, before either front end listens (e.g. to open spaces). */
  beforeListen?: (engine: ServedEngine) => Promise<void>;
  /** Authentication, CORS and rate limits, for both front ends (docs/security.md). */
  security?: Partial<ServerSecurityOptions>;
}

export interface ServerSecurityOptions {
  authMode: AuthMode;
  /** Default: the file store in <data_root>/.keys. */
  keyStore: KeyStore;
  /** Allows auth_mode "none" on a non-loopback address. */
  insecure: boolean;
  corsOrigins: readonly string[];
  /** Requests per key and space per window, on each front end; 0: no limit. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
}

/** The security settings with defaults, and the one Authenticator both front ends share. */
function resolveSecurity(options: ServerOptions) {
  const security = options.security ?? {};
  const authMode = security.authMode ?? 'none';
  assertSafeListen([options.host, options.grpcHost ?? options.host], {
    authMode,
    insecure: security.insecure ?? false,
  });
  const keyStore =
    security.keyStore ??
    FileKeyStore.forDataRoot(resolve(expandHome(options.engine.dataRoot ?? DEFAULT_DATA_ROOT)));
  return {
    auth: new Authenticator(authMode, keyStore),
    corsOrigins: security.corsOrigins ?? [],
    rateLimitMax: security.rateLimitMax ?? 0,
    rateLimitWindowMs: security.rateLimitWindowMs ?? 60_000,
  };
}

/** The settings both front ends share, taken from the HTTP ones for gRPC. */
function sharedGrpcSettings(http: Partial<HttpSettings> = {}): Partial<GrpcSettings> {
  const shared: Partial<GrpcSettings> = {};
  if (http.defaultSpace !== undefined) shared.defaultSpace = http.defaultSpace;
  if (http.autoCreateSpaces !== undefined) shared.autoCreateSpaces = http.autoCreateSpaces;
  if (http.defaultEmbedder !== undefined) shared.defaultEmbedder = http.defaultEmbedder;
  if (http.maxConnections !== undefined) shared.maxConnections = http.maxConnections;
  if (http.maxStreamSubscribers !== undefined)
    shared.maxStreamSubscribers = http.maxStreamSubscribers;
  if (http.maxStreamBufferedEvents !== undefined)
    shared.maxStreamBufferedEvents = http.maxStreamBufferedEvents;
  return shared;
}

export const SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7432,
  grpcPort: 50051,
  logLevel: 'info',
});

export interface RunningServer {
  engine: ServedEngine;
  /** HTTP base URL, e.g. http://127.0.0.1:7432 */
  url: string;
  /** gRPC target, host:port, e.g. 127.0.0.1:50051 (what a gRPC client dials). */
  grpcUrl: string;
  /** The gRPC port actually bound (the chosen one when 0 was asked for). */
  grpcPort: number;
  logger: PinoLogger;
  /** Stops both front ends (streams end, in-flight calls finish), then closes the engine. */
  stop(): Promise<void>;
}

export function createRootLogger(level: string): PinoLogger {
  return createRootLoggerTo(level, pino.destination(2));
}

/** The root logger writing to `stream` (tests capture it). */
export function createRootLoggerTo(level: string, stream: pino.DestinationStream): PinoLogger {
  // Memory content, vectors and credentials never reach the log.
  return pino(
    {
      level,
      serializers: {
        // The query string can hold memory text (GET /memories/recall?query=...): log the path only.
        req: (req: { method?: string; url?: string; id?: string }) => ({
          method: req.method,
          path: req.url?.split('?')[0],
          id: req.id,
        }),
      },
      redact: [
        'content',
        'vector',
        'embedding',
        'req.headers.authorization',
        '*.content',
        '*.vector',
      ],
    },
    stream,
  );
}

export async function startServer(
  options: ServerOptions,
  logger = createRootLogger(options.logLevel),
): Promise<RunningServer> {
  // grpc-js writes its own diagnostics (a failed bind, say) to stderr: send them to the root logger.
  const grpcJsLog = logger.child({ component: 'grpc-js' });
  setGrpcLogger({
    error: (...args: unknown[]) => grpcJsLog.warn({ detail: format(...args) }, 'grpc-js'),
    info: (...args: unknown[]) => grpcJsLog.info({ detail: format(...args) }, 'grpc-js'),
    debug: (...args: unknown[]) => grpcJsLog.debug({ detail: format(...args) }, 'grpc-js'),
  });
  const security = resolveSecurity(options);
  const deps = {
    logger: logger as unknown as Logger,
    ...(options.embedders ? { embedders: options.embedders } : {}),
  };
  const engine: ServedEngine = options.postgres
    ? await openPostgresEngine(options.postgres, deps)
    : await Registry.open(options.engine, deps);
  const app = buildHttpApp({
    engine,
    logger: logger.child({ component: 'http' }),
    ...(options.http ? { settings: options.http } : {}),
    security,
  });
  let url: string;
  let grpc: GrpcServer;
  try {
    await options.beforeListen?.(engine);
    url = await app.listen({ host: options.host, port: options.port });
    grpc = await GrpcServer.start({
      engine,
      logger: logger.child({ component: 'grpc' }),
      host: options.grpcHost ?? options.host,
      port: options.grpcPort ?? SERVER_DEFAULTS.grpcPort,
      settings: { ...sharedGrpcSettings(options.http), ...options.grpc },
      security,
    });
  } catch (error) {
    await app.close();
    await engine.close();
    throw error;
  }
  logger.info(
    {
      url,
      grpcUrl: grpc.target,
      grpcPort: grpc.port,
      backend: engine.backend,
      location: engine.location,
      spaces: engine.discovery.spaces,
    },
    'engram listening',
  );
  return {
    engine,
    url,
    grpcUrl: grpc.target,
    grpcPort: grpc.port,
    logger,
    async stop() {
      // Both front ends drain first (no call is cut while the engine still runs), then the engine.
      await Promise.all([app.close(), grpc.close()]);
      await engine.close();
    },
  };
}
