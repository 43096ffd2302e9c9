/**
 * StreamingRemember and StreamingRecall: bidirectional streams driven by BidiPump. Every
 * request is routed on its own (x-memory-space metadata, else its memory_space_id, else the
 * default space) and answered on its own, with its correlation_id: a bad request gets an
 * `error` response and the stream goes on (so does one refused by its key or rate limit: the
 * space is checked and counted per message). A StreamingRemember response is sent only once its
 * write is durable.
 */
import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { EngramError, type SpaceId } from '../../engine/index.ts';
import type {
  StreamingRecallRequest,
  StreamingRecallResponse,
  StreamingRememberRequest,
  StreamingRememberResponse,
} from '../../proto/engram/v1/messages.ts';
import { consumeRate } from '../auth/grpc-auth.ts';
import { BidiPump } from './bidi-pump.ts';
import type { GrpcContext } from './grpc-context.ts';
import { mapError, toErrorResult } from './grpc-errors.ts';
import { checkDecoded } from './undecodable.ts';
import { recallMemories, rememberMemory, storeEpisode } from './memory-operations.ts';
import { resolveSpaceId } from './space-resolution.ts';
import type { StreamGauge } from './stream-gauge.ts';

export interface StreamingDeps {
  gauge: StreamGauge;
  /** Registers a running stream so server shutdown can stop it; returns the deregistration. */
  track(stop: () => void): () => void;
}

/** The error response of one request: the stream goes on. Internal errors are logged in full. */
function errorFields(ctx: GrpcContext, method: string, error: unknown) {
  const mapped = mapError(error);
  if (mapped.internal) ctx.logger.error({ err: error, method }, 'gRPC stream request failed');
  return toErrorResult(mapped);
}

function pump<Req, Res>(
  ctx: GrpcContext,
  deps: StreamingDeps,
  call: ServerDuplexStream<Req, Res>,
  handle: (request: Req, signal: AbortSignal) => Promise<Res>,
): void {
  let untrack = (): void => undefined;
  const driver = new BidiPump<Req, Res>({
    call,
    maxInFlight: ctx.settings.maxInFlightPerStream,
    gauge: deps.gauge,
    logger: ctx.logger,
    handle,
    onDone: () => untrack(),
  });
  untrack = deps.track(() => driver.stop());
  driver.start();
}

export function streamingHandlers(
  ctx: GrpcContext,
  deps: StreamingDeps,
): UntypedServiceImplementation {
  const { defaultSpace } = ctx.settings;

  const remember = async (
    metadata: ServerDuplexStream<unknown, unknown>['metadata'],
    request: StreamingRememberRequest,
    signal: AbortSignal,
  ): Promise<StreamingRememberResponse> => {
    const correlation_id = request.correlation_id ?? '';
    let spaceId: SpaceId | undefined;
    try {
      checkDecoded(request);
      const { memory, episode } = request;
      if ((memory === undefined) === (episode === undefined)) {
        throw new EngramError('ENG_REQUEST_INVALID', 'Give exactly one of "memory" or "episode"');
      }
      spaceId = resolveSpaceId(
        metadata,
        [
          request.memory_space_id,
          memory?.memory_space_id,
          episode?.memory_space_id,
          episode?.episode?.memory_space_id,
        ],
        defaultSpace,
      );
      await consumeRate(metadata, spaceId);
      const options = { signal, ackOnly: true };
      const stored = memory
        ? await rememberMemory(ctx, spaceId, memory, options)
        : await storeEpisode(ctx, spaceId, episode!, options);
      return {
        correlation_id,
        memory_space_id: spaceId,
        stored: { memory_id: stored.memory_id!, lsn: stored.lsn!, stored_at: stored.stored_at! },
      };
    } catch (error) {
      return {
        correlation_id,
        memory_space_id: spaceId ?? '',
        error: errorFields(ctx, 'StreamingRemember', error),
      };
    }
  };

  const recall = async (
    metadata: ServerDuplexStream<unknown, unknown>['metadata'],
    request: StreamingRecallRequest,
    signal: AbortSignal,
  ): Promise<StreamingRecallResponse> => {
    const correlation_id = request.correlation_id ?? '';
    let spaceId: SpaceId | undefined;
    try {
      checkDecoded(request);
      const query = request.recall;
      if (query === undefined) throw new EngramError('ENG_REQUEST_INVALID', 'recall is required');
      spaceId = resolveSpaceId(
        metadata,
        [request.memory_space_id, query.memory_space_id],
        defaultSpace,
      );
      await consumeRate(metadata, spaceId);
      const recalled = await recallMemories(ctx, spaceId, query, { signal });
      return { correlation_id, memory_space_id: spaceId, recalled };
    } catch (error) {
      return {
        correlation_id,
        memory_space_id: spaceId ?? '',
        error: errorFields(ctx, 'StreamingRecall', error),
      };
    }
  };

  return {
    StreamingRemember: (
      call: ServerDuplexStream<StreamingRememberRequest, StreamingRememberResponse>,
    ) => pump(ctx, deps, call, (request, signal) => remember(call.metadata, request, signal)),
    StreamingRecall: (call: ServerDuplexStream<StreamingRecallRequest, StreamingRecallResponse>) =>
      pump(ctx, deps, call, (request, signal) => recall(call.metadata, request, signal)),
  };
}
