/** Starts the engine and its front ends; owns the root pino logger. */
import pino, { type Logger as PinoLogger } from 'pino';
import { Registry, type EngineOptions, type Logger } from '../engine/index.ts';
import { buildHttpApp } from './http-app.ts';

export interface ServerOptions {
  engine: Partial<EngineOptions>;
  host: string;
  port: number;
  logLevel: string;
}

export const SERVER_DEFAULTS = Object.freeze({ host: '127.0.0.1', port: 7432, logLevel: 'info' });

export interface RunningServer {
  registry: Registry;
  url: string;
  logger: PinoLogger;
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
  const registry = await Registry.open(options.engine, { logger: logger as unknown as Logger });
  const app = buildHttpApp({ registry, logger: logger.child({ component: 'http' }) });
  let url: string;
  try {
    url = await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await registry.close();
    throw error;
  }
  logger.info(
    { url, dataRoot: registry.options.dataRoot, spaces: registry.discovery.spaces },
    'engram listening',
  );
  return {
    registry,
    url,
    logger,
    async stop() {
      await app.close();
      await registry.close();
    },
  };
}
