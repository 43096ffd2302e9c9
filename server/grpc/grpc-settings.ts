/** The gRPC front end's settings: one DEFAULTS object, validated once and frozen. */
import { EngramError } from '../../engine/index.ts';

export interface GrpcSettings {
  /** The space of a request that names none (like HTTP's). */
  defaultSpace: string;
  /** Writes to a space that does not exist create it (bounded by the engine's maxSpaces). */
  autoCreateSpaces: boolean;
  /** Embedder of spaces created by the API when the request names none; null: client vectors only. */
  defaultEmbedder: string | null;
  /**
   * Messages of one StreamingRemember / StreamingRecall call being processed at once. At this
   * many the server stops reading the call (HTTP/2 flow control then pushes back on the client),
   * so one stream never holds more than this many requests plus a few queued responses.
   */
  maxInFlightPerStream: number;
  /** Open Stream (event) subscriptions across all spaces. */
  maxStreamSubscribers: number;
  /** Events one Stream subscriber may have waiting (it stopped reading) before it is dropped. */
  maxStreamBufferedEvents: number;
  /**
   * Open TCP connections at once (grpc-js has no such option: the server accepts connections
   * itself and hands them to grpc-js, see capped-listener.ts); more are closed on accept.
   */
  maxConnections: number;
  /**
   * Calls open at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS, grpc-js's
   * 'grpc.max_concurrent_streams'). The client learns it from the server's SETTINGS; a stream
   * opened beyond it is refused by HTTP/2 (REFUSED_STREAM, which the client sees as UNAVAILABLE).
   */
  maxConcurrentStreamsPerConnection: number;
  /** Largest request message accepted, in bytes. */
  maxReceiveMessageBytes: number;
  /** How long close() lets open calls finish before cutting them. */
  shutdownGraceMs: number;
}

export const GRPC_DEFAULTS: Readonly<GrpcSettings> = Object.freeze({
  defaultSpace: 'default',
  autoCreateSpaces: true,
  defaultEmbedder: 'hash',
  maxInFlightPerStream: 64,
  maxStreamSubscribers: 1000,
  maxStreamBufferedEvents: 10_000,
  maxConnections: 1024,
  maxConcurrentStreamsPerConnection: 1000,
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  shutdownGraceMs: 5000,
});

const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  maxInFlightPerStream: [1, 100_000],
  maxStreamSubscribers: [1, 1_000_000],
  maxStreamBufferedEvents: [1, 10_000_000],
  maxConnections: [1, 1_000_000],
  maxConcurrentStreamsPerConnection: [1, 1_000_000],
  maxReceiveMessageBytes: [1024, 1024 * 1024 * 1024],
  shutdownGraceMs: [0, 600_000],
};

/** Merges over the defaults; unknown keys and out-of-range values are ENG_OPTIONS_INVALID. */
export function validateGrpcSettings(input: Partial<GrpcSettings> = {}): Readonly<GrpcSettings> {
  for (const key of Object.keys(input)) {
    if (!(key in GRPC_DEFAULTS)) {
      throw new EngramError('ENG_OPTIONS_INVALID', `Unknown gRPC setting "${key}"`);
    }
  }
  const merged: GrpcSettings = { ...GRPC_DEFAULTS, ...input };
  for (const [key, [min, max]] of Object.entries(INTEGER_RANGES)) {
    const value = (merged as unknown as Record<string, unknown>)[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new EngramError(
        'ENG_OPTIONS_INVALID',
        `gRPC setting "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  }
  return Object.freeze(merged);
}
