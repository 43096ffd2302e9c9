/** /api/v1/memories and /api/v1/episodes. */
import type { FastifyInstance } from 'fastify';
import {
  EngramError,
  isEngramError,
  type MemoryPatch,
  type RecallFilter,
  type RecallMode,
  type RecallOptions,
  type SpaceHandle,
} from '../../engine/index.ts';
import { toHttpError } from '../errors.ts';
import type { HttpContext } from './context.ts';
import * as schema from './schemas.ts';
import { hitToWire, memoryToWire, rememberFromWire, type WireRemember } from './wire.ts';

interface RecallWire {
  query?: string;
  embedding?: number[];
  k?: number;
  mode?: string;
  threshold?: number;
  include_suppressed?: boolean;
  include_cold?: boolean;
  spread?: { seeds?: number; hops?: number; fan_out?: number; decay?: number };
  filters?: {
    tags?: string[];
    memory_types?: RecallFilter['memoryTypes'];
    observed_after?: string | number;
    observed_before?: string | number;
    min_confidence?: number;
  };
}

const DEFAULT_K = 10;

export function memoryRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.post(
    '/api/v1/memories/remember',
    { schema: { body: schema.rememberBody } },
    async (request, reply) => {
      const space = await ctx.forWrite(request);
      const record = await space.remember(rememberFromWire(request.body as WireRemember));
      return reply
        .status(record.deduplicated ? 200 : 201)
        .send({ memory_id: record.id, lsn: record.lsn, ...memoryToWire(record, space.id) });
    },
  );

  app.post(
    '/api/v1/memories/remember/batch',
    { schema: { body: schema.batchBody(ctx.settings.maxBatchItems) } },
    async (request) => {
      const space = await ctx.forWrite(request);
      const items = (request.body as { memories: WireRemember[] }).memories;
      // Each item answers for itself; the writes share group commits, so a batch costs few fsyncs.
      const results = await Promise.all(
        items.map(async (item) => {
          try {
            const extra = Object.keys(item).find((key) => !(key in schema.rememberFields));
            if (extra)
              throw new EngramError(
                'ENG_REQUEST_INVALID',
                `Unknown field "${extra}" in a batch item`,
              );
            const record = await space.remember(rememberFromWire(item));
            return {
              ok: true,
              memory_id: record.id,
              stored_at: new Date(record.storedAt).toISOString(),
            };
          } catch (error) {
            if (!isEngramError(error)) throw error;
            return { ok: false, error: toHttpError(error).body.error };
          }
        }),
      );
      return { memory_space: space.id, results };
    },
  );

  app.post(
    '/api/v1/episodes/remember',
    { schema: { body: schema.episodeBody } },
    async (request, reply) => {
      const space = await ctx.forWrite(request);
      const b = request.body as Record<string, unknown> & WireRemember;
      const { when, what, where, who, why, how, importance } = b;
      const input = rememberFromWire({
        ...(b.id ? { id: b.id } : {}),
        ...(b.content ? { content: b.content } : {}),
        ...(b.embedding ? { embedding: b.embedding } : {}),
        ...(b.confidence !== undefined ? { confidence: b.confidence } : {}),
        ...(b.tags ? { tags: b.tags } : {}),
        ...(b.metadata ? { metadata: b.metadata } : {}),
      });
      input.episode = { what: what as string };
      Object.assign(
        input.episode,
        Object.fromEntries(
          Object.entries({ when, where, who, why, how, importance }).filter(
            ([, v]) => v !== undefined,
          ),
        ),
      );
      const record = await space.remember(input);
      return reply
        .status(201)
        .send({ memory_id: record.id, lsn: record.lsn, ...memoryToWire(record, space.id) });
    },
  );

  const recall = async (space: SpaceHandle | undefined, spaceId: string, wire: RecallWire) => {
    const mode = wire.mode as RecallMode | undefined;
    const hasQuery = wire.query !== undefined;
    if (hasQuery === (wire.embedding !== undefined)) {
      throw new EngramError(
        'ENG_REQUEST_INVALID',
        'Give exactly one of "query" (text) or "embedding" (vector)',
      );
    }
    const options: RecallOptions = {
      k: wire.k ?? DEFAULT_K,
      includeSuppressed: wire.include_suppressed === true,
      includeCold: wire.include_cold === true,
    };
    if (mode !== undefined) options.mode = mode;
    if (wire.spread) {
      const { seeds, hops, fan_out: fanOut, decay } = wire.spread;
      options.spread = {
        ...(seeds === undefined ? {} : { seeds }),
        ...(hops === undefined ? {} : { hops }),
        ...(fanOut === undefined ? {} : { fanOut }),
        ...(decay === undefined ? {} : { decay }),
      };
    }
    if (wire.threshold !== undefined) options.threshold = wire.threshold;
    const f = wire.filters;
    if (f) {
      const filter: RecallFilter = {};
      if (f.tags) filter.tags = f.tags;
      if (f.memory_types) filter.memoryTypes = f.memory_types;
      if (f.observed_after !== undefined) filter.observedAfter = f.observed_after;
      if (f.observed_before !== undefined) filter.observedBefore = f.observed_before;
      if (f.min_confidence !== undefined) filter.minConfidence = f.min_confidence;
      options.filter = filter;
    }
    if (!space) {
      // Reads of a space that does not exist answer empty and create nothing; bad input still fails.
      if (!Number.isInteger(options.k) || options.k < 1 || options.k > ctx.engine.options.maxK) {
        throw new EngramError(
          'ENG_QUERY_INVALID',
          `k must be an integer from 1 to ${ctx.engine.options.maxK}`,
        );
      }
      return { memories: [], memory_space: spaceId };
    }
    const hits = await space.recall(hasQuery ? wire.query! : wire.embedding!, options);
    return { memories: hits.map((hit) => hitToWire(hit, spaceId)), memory_space: spaceId };
  };

  app.get(
    '/api/v1/memories/recall',
    { schema: { querystring: schema.recallQuery } },
    async (request) => {
      const q = request.query as Record<string, string | number | boolean | undefined>;
      const { id, space } = await ctx.forRead(request);
      const filters: NonNullable<RecallWire['filters']> = {};
      if (typeof q.tags === 'string') filters.tags = q.tags.split(',').filter((t) => t !== '');
      if (typeof q.memory_type === 'string') filters.memory_types = [q.memory_type as 'semantic'];
      if (typeof q.min_confidence === 'number') filters.min_confidence = q.min_confidence;
      if (typeof q.observed_after === 'string') filters.observed_after = q.observed_after;
      if (typeof q.observed_before === 'string') filters.observed_before = q.observed_before;
      const wire: RecallWire = { query: q.query as string, filters };
      if (q.k !== undefined) wire.k = q.k as number;
      if (q.mode !== undefined) wire.mode = q.mode as string;
      if (q.threshold !== undefined) wire.threshold = q.threshold as number;
      if (q.include_suppressed !== undefined)
        wire.include_suppressed = q.include_suppressed as boolean;
      if (q.include_cold !== undefined) wire.include_cold = q.include_cold as boolean;
      return recall(space, id, wire);
    },
  );

  app.post('/api/v1/memories/recall', { schema: { body: schema.recallBody } }, async (request) => {
    const { id, space } = await ctx.forRead(request);
    return recall(space, id, request.body as RecallWire);
  });

  const notFound = (id: string, space: string) =>
    new EngramError('ENG_MEMORY_NOT_FOUND', `No memory ${JSON.stringify(id)} in space "${space}"`);

  app.get(
    '/api/v1/memories/:id',
    { schema: { params: schema.idParams, querystring: schema.spaceOnlyQuery } },
    async (request) => {
      const { id: spaceId, space } = await ctx.forRead(request);
      const { id } = request.params as { id: string };
      const record = space ? await space.get(id) : undefined;
      if (!record) throw notFound(id, spaceId);
      return memoryToWire(record, spaceId);
    },
  );

  app.patch(
    '/api/v1/memories/:id',
    { schema: { params: schema.idParams, body: schema.patchBody } },
    async (request) => {
      const { id: spaceId, space } = await ctx.forRead(request);
      const { id } = request.params as { id: string };
      if (!space) throw notFound(id, spaceId);
      const b = request.body as Record<string, unknown>;
      const patch: MemoryPatch = {};
      if (b.content !== undefined) patch.content = b.content as string;
      if (b.confidence !== undefined) patch.confidence = b.confidence as number;
      if (b.memory_type !== undefined)
        patch.memoryType = b.memory_type as MemoryPatch['memoryType'] & string;
      if (b.tags !== undefined) patch.tags = b.tags as string[];
      if (b.metadata !== undefined) patch.metadata = b.metadata as Record<string, unknown>;
      if (b.suppressed !== undefined) patch.suppressed = b.suppressed as boolean;
      return memoryToWire(await space.update(id, patch), spaceId);
    },
  );

  app.delete(
    '/api/v1/memories/:id',
    { schema: { params: schema.idParams, querystring: schema.deleteQuery } },
    async (request) => {
      const { id: spaceId, space } = await ctx.forRead(request);
      const { id } = request.params as { id: string };
      const mode = (request.query as { mode?: 'delete' | 'suppress' }).mode ?? 'delete';
      if (!space || !(await space.forget(id, { mode }))) throw notFound(id, spaceId);
      return {
        memory_id: id,
        memory_space: spaceId,
        mode,
        deleted: mode === 'delete',
        suppressed: mode === 'suppress',
      };
    },
  );

  app.get('/api/v1/memories', { schema: { querystring: schema.listQuery } }, async (request) => {
    const { id: spaceId, space } = await ctx.forRead(request);
    const q = request.query as { cursor?: string; limit?: number; tier?: string };
    const limit = q.limit ?? 100;
    if (!space) return { memories: [], memory_space: spaceId, next_cursor: null };
    const page = await space.list({
      limit,
      ...(q.cursor === undefined ? {} : { after: q.cursor }),
      ...(q.tier === undefined ? {} : { tier: q.tier as 'hot' | 'warm' | 'cold' }),
    });
    return {
      memories: page.memories.map((m) => memoryToWire(m, spaceId)),
      memory_space: spaceId,
      next_cursor: page.nextCursor ?? null,
    };
  });

  app.get(
    '/api/v1/memories/:id/associations',
    { schema: { params: schema.idParams, querystring: schema.spaceOnlyQuery } },
    async (request) => {
      const { id: spaceId, space } = await ctx.forRead(request);
      const { id } = request.params as { id: string };
      if (!space) throw notFound(id, spaceId);
      const links = await space.associations(id);
      return {
        memory_id: id,
        memory_space: spaceId,
        associations: links.map(({ to, weight }) => ({ target_id: to, weight })),
      };
    },
  );

  app.post(
    '/api/v1/memories/:id/associations',
    { schema: { params: schema.idParams, body: schema.associationBody } },
    async (request, reply) => {
      const { id: spaceId, space } = await ctx.forRead(request);
      const { id } = request.params as { id: string };
      if (!space) throw notFound(id, spaceId);
      const { target_id: target, weight = 1 } = request.body as {
        target_id: string;
        weight?: number;
      };
      await space.associate(id, target, weight);
      return reply
        .status(201)
        .send({ memory_id: id, target_id: target, weight, memory_space: spaceId });
    },
  );
}
