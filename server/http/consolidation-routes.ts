/** /api/v1/consolidations: list the consolidated memories of a space, or run consolidation now. */
import type { FastifyInstance } from 'fastify';
import type { ConsolidationSettings } from '../../engine/index.ts';
import type { HttpContext } from './context.ts';
import { memoryToWire } from './wire.ts';

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { space: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
} as const;

const runBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    memory_space: { type: 'string' },
    memory_space_id: { type: 'string' },
    similarity: { type: 'number' },
    min_sources: { type: 'integer' },
    max_sources: { type: 'integer' },
    candidates_max: { type: 'integer' },
  },
} as const;

export function consolidationRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/v1/consolidations', { schema: { querystring: listQuery } }, async (request) => {
    const { id, space } = await ctx.forRead(request);
    const limit = (request.query as { limit?: number }).limit ?? 100;
    const memories = space ? await space.consolidations(limit) : [];
    return { consolidations: memories.map((memory) => memoryToWire(memory, id)), memory_space: id };
  });

  app.post('/api/v1/consolidations/run', { schema: { body: runBody } }, async (request) => {
    const { id, space } = await ctx.forRead(request);
    const body = (request.body ?? {}) as {
      similarity?: number;
      min_sources?: number;
      max_sources?: number;
      candidates_max?: number;
    };
    const settings: Partial<ConsolidationSettings> = {
      ...(body.similarity === undefined ? {} : { similarity: body.similarity }),
      ...(body.min_sources === undefined ? {} : { minSources: body.min_sources }),
      ...(body.max_sources === undefined ? {} : { maxSources: body.max_sources }),
      ...(body.candidates_max === undefined ? {} : { candidatesMax: body.candidates_max }),
    };
    const made = space ? await space.consolidate(settings) : [];
    return {
      memory_space: id,
      consolidations: made.map((c) => ({
        memory_id: c.memoryId,
        sources: c.sources,
        strength: c.strength,
      })),
    };
  });
}
