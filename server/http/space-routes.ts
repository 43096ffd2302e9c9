/** /api/v1/spaces and the health routes. */
import type { FastifyInstance } from 'fastify';
import { EngramError } from '../../engine/index.ts';
import type { HttpContext } from './context.ts';
import * as schema from './schemas.ts';
import { spaceStatsToWire, spaceSummaryToWire } from './wire.ts';

export function spaceRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { engine } = ctx;

  // Only the spaces the request's key may use are listed.
  app.get('/api/v1/spaces', async (request) => {
    const access = ctx.access(request);
    const visible = (await engine.listSpaces()).filter((s) => access.allowsSpace(s.id));
    return { spaces: visible.map(spaceSummaryToWire) };
  });

  app.post(
    '/api/v1/spaces',
    { schema: { body: schema.createSpaceBody } },
    async (request, reply) => {
      const body = request.body as {
        id: string;
        dimension?: number;
        embedder?: string;
        auto_link_threshold?: number;
        auto_link_max?: number;
        dedup_threshold?: number;
      };
      const settings = {
        ...(body.auto_link_threshold === undefined
          ? {}
          : { autoLinkThreshold: body.auto_link_threshold }),
        ...(body.auto_link_max === undefined ? {} : { autoLinkMax: body.auto_link_max }),
        ...(body.dedup_threshold === undefined ? {} : { dedupThreshold: body.dedup_threshold }),
      };
      const embedder = body.embedder ?? ctx.settings.defaultEmbedder;
      const { id, created } = await engine.createSpace(ctx.authorizeSpace(request, body.id), {
        ...(body.dimension === undefined ? {} : { dimension: body.dimension }),
        ...(embedder ? { embedder } : {}),
        settings,
      });
      const stats = await (await engine.space(id)).stats();
      return reply.status(created ? 201 : 200).send({ created, ...spaceStatsToWire(stats) });
    },
  );

  app.get('/api/v1/spaces/:id', { schema: { params: schema.idParams } }, async (request) => {
    const id = ctx.authorizeSpace(request, (request.params as { id: string }).id);
    return spaceStatsToWire(await (await engine.space(id)).stats());
  });

  app.delete('/api/v1/spaces/:id', { schema: { params: schema.idParams } }, async (request) => {
    const id = ctx.authorizeSpace(request, (request.params as { id: string }).id);
    if (!(await engine.deleteSpace(id)))
      throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}"`);
    return { id, deleted: true };
  });

  app.get('/health', () => ({ status: 'ok' }));

  app.get('/health/ready', () => {
    const { spaces, skipped } = engine.discovery;
    return { status: 'ready', spaces, skipped: skipped.length };
  });

  /**
   * Measured values only: pressure is the fullest tier's occupancy, consolidation_rate is
   * consolidations per second over the last 10 minutes in this process.
   */
  app.get(
    '/api/v1/system/health',
    { schema: { querystring: schema.spaceOnlyQuery } },
    async (request) => {
      const only = (request.query as { space?: string }).space;
      const access = ctx.access(request);
      const ids =
        only === undefined
          ? (await engine.listSpaces({ counts: false }))
              .map((s) => s.id)
              .filter((id) => access.allowsSpace(id))
          : [ctx.authorizeSpace(request, only)];
      const spaces = [];
      let degraded = false;
      for (const id of ids) {
        try {
          const stats = await (await engine.space(id)).stats();
          spaces.push({
            space: id,
            memories: stats.memories,
            pressure: stats.pressure,
            wal_lag_ms: stats.applyLagMs,
            consolidation_rate: stats.consolidationRate,
            state: stats.state,
          });
        } catch (error) {
          if (!(error instanceof EngramError) || error.code !== 'ENG_SPACE_QUARANTINED')
            throw error;
          degraded = true;
          spaces.push({
            space: id,
            memories: null,
            pressure: null,
            wal_lag_ms: null,
            consolidation_rate: null,
            state: 'quarantined',
            reason: error.details?.reason,
          });
        }
      }
      return { status: degraded ? 'degraded' : 'ok', spaces };
    },
  );
}
