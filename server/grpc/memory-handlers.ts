/** The unary memory calls: Remember, Store, Recall, Forget, GetMemory. */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { EngramError } from '../../engine/index.ts';
import type {
  ForgetRequest,
  ForgetResponse,
  GetMemoryRequest,
  GetMemoryResponse,
  RecallRequest,
  RecallResponse,
  RememberRequest,
  RememberResponse,
  StoreRequest,
} from '../../proto/engram/v1/messages.ts';
import type { GrpcContext } from './grpc-context.ts';
import { forgetModeFromWire, forgetModeToWire, memoryToWire } from './grpc-wire.ts';
import { recallMemories, rememberMemory, storeEpisode } from './memory-operations.ts';
import { resolveSpaceId } from './space-resolution.ts';
import { unaryCall } from './unary-call.ts';

function memoryNotFound(id: string, space: string): EngramError {
  return new EngramError(
    'ENG_MEMORY_NOT_FOUND',
    `No memory ${JSON.stringify(id)} in space "${space}"`,
  );
}

/** proto3 sends an absent string as empty: a memory id is required where one is named. */
function requiredMemoryId(id: string | undefined): string {
  if (id === undefined || id === '') {
    throw new EngramError('ENG_MEMORY_ID_INVALID', 'memory_id is required');
  }
  return id;
}

export function memoryHandlers(ctx: GrpcContext): UntypedServiceImplementation {
  const space = (
    metadata: Parameters<typeof resolveSpaceId>[0],
    ...ids: Array<string | undefined>
  ) => resolveSpaceId(metadata, ids, ctx.settings.defaultSpace);

  return {
    Remember: unaryCall<RememberRequest, RememberResponse>(ctx, 'Remember', (call, signal) =>
      rememberMemory(ctx, space(call.metadata, call.request.memory_space_id), call.request, {
        signal,
      }),
    ),

    Store: unaryCall<StoreRequest, RememberResponse>(ctx, 'Store', (call, signal) => {
      const { request } = call;
      const id = space(call.metadata, request.memory_space_id, request.episode?.memory_space_id);
      return storeEpisode(ctx, id, request, { signal });
    }),

    Recall: unaryCall<RecallRequest, RecallResponse>(ctx, 'Recall', (call, signal) =>
      recallMemories(ctx, space(call.metadata, call.request.memory_space_id), call.request, {
        signal,
      }),
    ),

    Forget: unaryCall<ForgetRequest, ForgetResponse>(ctx, 'Forget', async (call, signal) => {
      const { request } = call;
      const spaceId = space(call.metadata, request.memory_space_id);
      const memoryId = requiredMemoryId(request.memory_id);
      const mode = forgetModeFromWire(request.mode);
      const handle = await ctx.forRead(spaceId);
      if (!handle || !(await handle.forget(memoryId, { mode, signal }))) {
        throw memoryNotFound(memoryId, spaceId);
      }
      return {
        memory_id: memoryId,
        memory_space_id: spaceId,
        mode: forgetModeToWire(mode),
        deleted: mode === 'delete',
        suppressed: mode === 'suppress',
      };
    }),

    GetMemory: unaryCall<GetMemoryRequest, GetMemoryResponse>(ctx, 'GetMemory', async (call) => {
      const { request } = call;
      const spaceId = space(call.metadata, request.memory_space_id);
      const memoryId = requiredMemoryId(request.memory_id);
      const handle = await ctx.forRead(spaceId);
      const record = handle ? await handle.get(memoryId) : undefined;
      if (!record) throw memoryNotFound(memoryId, spaceId);
      return { memory: memoryToWire(record, spaceId) };
    }),
  };
}
