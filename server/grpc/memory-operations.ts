/**
 * The memory operations behind both the unary calls and the streams: wire request in, wire
 * response out, for one already-resolved space. Requests are checked before a write creates a
 * space, so a malformed message never leaves an empty space behind.
 */
import { EngramError, type SpaceId } from '../../engine/index.ts';
import type {
  RecallRequest,
  RecallResponse,
  RememberRequest,
  RememberResponse,
  StoreRequest,
} from '../../proto/engram/v1/messages.ts';
import { toTimestamp } from '../../proto/engram/v1/well-known.ts';
import type { GrpcContext } from './grpc-context.ts';
import {
  hitToWire,
  memoryToWire,
  recallFromWire,
  rememberFromWire,
  storeFromWire,
} from './grpc-wire.ts';

export interface OperationOptions {
  signal: AbortSignal;
  /** Leave the full memory out of the response (stream acknowledgements carry id and LSN only). */
  ackOnly?: boolean;
}

async function store(
  ctx: GrpcContext,
  spaceId: SpaceId,
  input: ReturnType<typeof rememberFromWire>,
  options: OperationOptions,
): Promise<RememberResponse> {
  const space = await ctx.forWrite(spaceId);
  // Resolves only once the log record is durable (fsynced, under the default durability).
  const record = await space.remember(input, { signal: options.signal });
  const response: RememberResponse = {
    memory_id: record.id,
    memory_space_id: spaceId,
    lsn: record.lsn,
    stored_at: toTimestamp(record.storedAt),
  };
  if (options.ackOnly !== true) response.memory = memoryToWire(record, spaceId);
  return response;
}

export function rememberMemory(
  ctx: GrpcContext,
  spaceId: SpaceId,
  request: RememberRequest,
  options: OperationOptions,
): Promise<RememberResponse> {
  return store(ctx, spaceId, rememberFromWire(request), options);
}

export function storeEpisode(
  ctx: GrpcContext,
  spaceId: SpaceId,
  request: StoreRequest,
  options: OperationOptions,
): Promise<RememberResponse> {
  return store(ctx, spaceId, storeFromWire(request), options);
}

export async function recallMemories(
  ctx: GrpcContext,
  spaceId: SpaceId,
  request: RecallRequest,
  options: OperationOptions,
): Promise<RecallResponse> {
  const { query, options: recallOptions } = recallFromWire(request);
  const space = await ctx.forRead(spaceId);
  if (!space) {
    // A space that does not exist answers no memories and is not created; bad input still fails.
    const { maxK } = ctx.engine.options;
    const { k } = recallOptions;
    if (!Number.isInteger(k) || k < 1 || k > maxK) {
      throw new EngramError('ENG_QUERY_INVALID', `k must be an integer from 1 to ${maxK}`);
    }
    return { memory_space_id: spaceId, memories: [] };
  }
  const hits = await space.recall(query, { ...recallOptions, signal: options.signal });
  return { memory_space_id: spaceId, memories: hits.map((hit) => hitToWire(hit, spaceId)) };
}
