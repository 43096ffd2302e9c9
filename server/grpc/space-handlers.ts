/** The space and health calls: CreateSpace, ListSpaces, DeleteSpace, Health. */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  EngramError,
  type SpaceId,
  type SpaceStats,
  type SpaceSummary,
} from '../../engine/index.ts';
import type {
  CreateSpaceRequest,
  CreateSpaceResponse,
  DeleteSpaceRequest,
  DeleteSpaceResponse,
  HealthRequest,
  HealthResponse,
  ListSpacesRequest,
  ListSpacesResponse,
  SpaceHealth,
} from '../../proto/engram/v1/messages.ts';
import { callAccess } from '../auth/grpc-auth.ts';
import type { GrpcContext } from './grpc-context.ts';
import { spaceStateToWire, spaceStatsToWire, spaceSummaryToWire } from './grpc-wire.ts';
import { namedSpaceId, optionalSpaceId } from './space-resolution.ts';
import { unaryCall } from './unary-call.ts';

export function spaceHandlers(ctx: GrpcContext): UntypedServiceImplementation {
  const { engine } = ctx;

  /** A space's stats, or why it is quarantined (it then has none). */
  const inspect = async (id: SpaceId): Promise<{ stats: SpaceStats } | { reason: string }> => {
    try {
      return { stats: await (await engine.space(id)).stats() };
    } catch (error) {
      if (!(error instanceof EngramError) || error.code !== 'ENG_SPACE_QUARANTINED') throw error;
      const reason = error.details?.reason;
      return { reason: typeof reason === 'string' ? reason : error.message };
    }
  };

  /** Measured values only, as GET /api/v1/system/health; a quarantined space has none. */
  const spaceHealth = async (id: SpaceId): Promise<SpaceHealth> => {
    const found = await inspect(id);
    if ('reason' in found) {
      return { memory_space_id: id, state: 'SPACE_STATE_QUARANTINED', reason: found.reason };
    }
    const { stats } = found;
    return {
      memory_space_id: id,
      state: spaceStateToWire(stats.state),
      memories: stats.memories,
      ...(stats.pressure === null ? {} : { pressure: stats.pressure }),
      wal_lag_ms: stats.applyLagMs,
      consolidation_rate: stats.consolidationRate,
    };
  };

  return {
    CreateSpace: unaryCall<CreateSpaceRequest, CreateSpaceResponse>(
      ctx,
      'CreateSpace',
      async (call) => {
        const { request } = call;
        const id = namedSpaceId(call.metadata, request.memory_space_id);
        const embedder =
          request.embedder === undefined || request.embedder === ''
            ? ctx.settings.defaultEmbedder
            : request.embedder;
        const { created } = await engine.createSpace(id, {
          ...(request.dimension === undefined ? {} : { dimension: request.dimension }),
          ...(embedder ? { embedder } : {}),
        });
        const stats = await (await engine.space(id)).stats();
        return { created, space: spaceStatsToWire(stats) };
      },
    ),

    ListSpaces: unaryCall<ListSpacesRequest, ListSpacesResponse>(
      ctx,
      'ListSpaces',
      async (call) => {
        const only = optionalSpaceId(call.metadata, call.request.memory_space_id);
        if (only === undefined) {
          // Only the spaces the call's key may use are listed.
          const access = callAccess(call.metadata);
          const visible = (await engine.listSpaces()).filter((s) => access.allowsSpace(s.id));
          return { spaces: visible.map(spaceSummaryToWire) };
        }
        // Narrowed to one space: only that one is opened; one that does not exist lists nothing
        // (and is not created).
        if (!(await engine.hasSpace(only))) return { spaces: [] };
        const found = await inspect(only);
        const summary: SpaceSummary =
          'reason' in found
            ? {
                id: only,
                state: 'quarantined',
                memories: null,
                dimension: null,
                reason: found.reason,
              }
            : {
                id: only,
                state: found.stats.state,
                memories: found.stats.memories,
                dimension: found.stats.dimension,
              };
        return { spaces: [spaceSummaryToWire(summary)] };
      },
    ),

    DeleteSpace: unaryCall<DeleteSpaceRequest, DeleteSpaceResponse>(
      ctx,
      'DeleteSpace',
      async (call) => {
        const id = namedSpaceId(call.metadata, call.request.memory_space_id);
        if (!(await engine.deleteSpace(id))) {
          throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}"`);
        }
        return { memory_space_id: id, deleted: true };
      },
    ),

    Health: unaryCall<HealthRequest, HealthResponse>(ctx, 'Health', async (call) => {
      const only = optionalSpaceId(call.metadata, call.request.memory_space_id);
      const access = callAccess(call.metadata);
      const ids =
        only === undefined
          ? (await engine.listSpaces({ counts: false }))
              .map((summary) => summary.id)
              .filter((id) => access.allowsSpace(id))
          : [only];
      const spaces: SpaceHealth[] = [];
      for (const id of ids) spaces.push(await spaceHealth(id));
      const degraded = spaces.some((space) => space.state === 'SPACE_STATE_QUARANTINED');
      return { status: degraded ? 'HEALTH_STATUS_DEGRADED' : 'HEALTH_STATUS_OK', spaces };
    }),
  };
}
