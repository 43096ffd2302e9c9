/**
 * The gRPC front end (@grpc/grpc-js): the engram.v1.EngramService loaded at run time from
 * proto/engram/v1/, served beside HTTP by server/main.ts. Starting binds host:port (port 0 picks
 * a free one, reported in `port`); close() stops accepting calls, ends event streams, lets
 * bidirectional streams answer what they already read, waits for unary calls, and cuts whatever
 * is still open after shutdownGraceMs.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { SILENT_LOGGER, type Logger, type ServedEngine } from '../../engine/index.ts';
import { engramServiceDefinition } from '../../proto/engram/v1/engram-proto.ts';
import { Authenticator } from '../auth/authenticator.ts';
import { guardService, type GrpcGuardOptions } from '../auth/grpc-auth.ts';
import { eventStreamHandler } from './event-stream.ts';
import { listenCapped, type CappedListener } from './capped-listener.ts';
import { GrpcContext } from './grpc-context.ts';
import { validateGrpcSettings, type GrpcSettings } from './grpc-settings.ts';
import { keyHandlers } from './key-handlers.ts';
import { memoryHandlers } from './memory-handlers.ts';
import { spaceHandlers } from './space-handlers.ts';
import { StreamGauge, type StreamGaugeSnapshot } from './stream-gauge.ts';
import { streamingHandlers } from './streaming-handlers.ts';
import { tolerantDefinition } from './undecodable.ts';

export interface GrpcServerOptions {
  engine: ServedEngine;
  logger?: Logger;
  /** Address to listen on (an IPv6 address without brackets is fine). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  settings?: Partial<GrpcSettings>;
  /** API keys and rate limits (server/auth/grpc-auth.ts); default: auth off, no limit. */
  security?: Partial<GrpcGuardOptions>;
}

function bindAddress(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

export class GrpcServer {
  private readonly server: Server;
  /** Stop functions of the streams now open (event streams and bidirectional streams). */
  private readonly streams = new Set<() => void>();
  private readonly gauge = new StreamGauge();
  private closing: Promise<void> | undefined;
  private boundPort = 0;
  private boundTarget = '';
  private listener: CappedListener | undefined;

  private constructor(
    private readonly settings: Readonly<GrpcSettings>,
    private readonly logger: Logger,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': settings.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': settings.maxConcurrentStreamsPerConnection,
    });
  }

  static async start(options: GrpcServerOptions): Promise<GrpcServer> {
    const settings = validateGrpcSettings(options.settings);
    const logger = options.logger ?? SILENT_LOGGER;
    const grpc = new GrpcServer(settings, logger);
    const ctx = new GrpcContext(options.engine, settings, logger);
    const track = (stop: () => void): (() => void) => {
      grpc.streams.add(stop);
      return () => grpc.streams.delete(stop);
    };
    const guard: GrpcGuardOptions = {
      auth: Authenticator.none(),
      rateLimitMax: 0,
      rateLimitWindowMs: 60_000,
      ...options.security,
    };
    // Undecodable requests answer INVALID_ARGUMENT, not grpc-js's INTERNAL (undecodable.ts).
    const definition = tolerantDefinition(engramServiceDefinition());
    const handlers = {
      ...keyHandlers(ctx, guard.auth.store),
      ...memoryHandlers(ctx),
      ...spaceHandlers(ctx),
      ...streamingHandlers(ctx, { gauge: grpc.gauge, track }),
      Stream: eventStreamHandler(ctx, { track }),
    };
    // Every handler behind the key check: the space resolvers refuse a call without a grant.
    grpc.server.addService(definition, guardService(definition, handlers, guard));
    // Our own listener, so that connections are bounded (capped-listener.ts).
    grpc.listener = await listenCapped(grpc.server, ServerCredentials.createInsecure(), {
      host: options.host,
      port: options.port,
      maxConnections: settings.maxConnections,
      onError: (err) => logger.warn({ err }, 'gRPC listener error'),
    });
    grpc.boundPort = grpc.listener.port;
    grpc.boundTarget = bindAddress(options.host, grpc.boundPort);
    logger.info({ target: grpc.boundTarget, port: grpc.boundPort }, 'gRPC listening');
    return grpc;
  }

  /** The port bound (the chosen one when 0 was asked for). */
  get port(): number {
    return this.boundPort;
  }

  /** host:port, what a client dials. */
  get target(): string {
    return this.boundTarget;
  }

  /** Counters of the bidirectional streams served so far (back-pressure is visible here). */
  streamStats(): StreamGaugeSnapshot {
    return this.gauge.snapshot();
  }

  /** Restarts the per-stream backlog peak (tests measure one stream at a time). */
  resetStreamPeak(): void {
    this.gauge.resetPeak();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // tryShutdown stops accepting calls at once and calls back when every open call has ended.
    const drained = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const unlistened = this.listener?.close();
    const open = this.streams.size;
    for (const stop of [...this.streams]) stop();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.settings.shutdownGraceMs);
    });
    const outcome = await Promise.race([drained, graceOver]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(
        { graceMs: this.settings.shutdownGraceMs },
        'gRPC calls still open after the grace period: cut',
      );
      this.server.forceShutdown();
    }
    await unlistened;
    this.logger.info({ streamsEnded: open }, 'gRPC stopped');
  }
}
