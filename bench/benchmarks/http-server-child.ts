/**
 * Server process of the http-throughput benchmark: `http-server-child.ts <kind> <json params>`.
 * It talks to the benchmark over the IPC channel (messages below), never over stdout.
 *
 * - kind "prefill": opens a Registry on params.dataRoot (durability 'none'), creates the space
 *   "bench" of dimension 384 with no embedder (the client sends vectors), stores `count` items
 *   of EmbeddingGenerator(seed) as m0..m<count-1>, waits until the warm tier and the vector
 *   index have applied all of them, closes the registry (index snapshot written, nothing left to
 *   replay at the next open) and answers `{ type: 'prefilled', ... }`;
 * - kind "engine": opens a copy of that data root with the given durability, opens the space,
 *   serves the product's HTTP app (buildHttpApp, logger off) on 127.0.0.1 and answers
 *   `{ type: 'ready', port }`. On `{ type: 'recall', ... }` it runs the in-process baseline in
 *   this same process, on the same open space: `callers` closed-loop callers of
 *   handle.recall(query, { k }) over the same query list the HTTP clients send, counted over a
 *   window after a warm-up, and answers `{ type: 'recalled', ... }`;
 * - kind "bare": a bare fastify app (same body limit, default JSON parser, no schema, no
 *   engine) whose POST /api/v1/memories/remember accepts the same body and answers 201 at once
 *   with a body of the same shape as the engine's; answers `{ type: 'ready', port }`.
 *
 * The benchmark SIGKILLs it when done (no drain: nothing after the measurement costs time). It
 * also kills itself if its parent goes away; with --profile the benchmark disconnects instead,
 * and the child writes its CPU profile before it kills itself.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { Registry, type DurabilityMode, type SpaceHandle } from '../../engine/index.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { HTTP_DEFAULTS } from '../../server/http/context.ts';
import { EmbeddingGenerator } from '../data.ts';
import { quantile, sleep, startProfile } from '../lib.ts';

export const HTTP_BENCH_SPACE = 'bench';
export const HTTP_BENCH_DIMENSION = 384;

export interface PrefillParams {
  dataRoot: string;
  count: number;
  seed: number;
}

export interface EngineParams {
  dataRoot: string;
  durability: DurabilityMode;
}

export interface RecallRequest {
  type: 'recall';
  queries: number[][];
  k: number;
  callers: number;
  warmupMs: number;
  durationMs: number;
}

export type ChildMessage =
  | { type: 'ready'; port: number; memories?: number; openMs?: number }
  | { type: 'prefilled'; memories: number; writeMs: number; catchUpMs: number }
  | {
      type: 'recalled';
      perSec: number;
      count: number;
      seconds: number;
      p50Ms: number;
      p99Ms: number;
      /** Ids of the hits of queries[0], from one untimed call before the run. */
      firstIds: string[];
    }
  | { type: 'failed'; message: string };

function send(message: ChildMessage): void {
  process.send!(message);
}

async function prefill(p: PrefillParams): Promise<void> {
  const registry = await Registry.open({
    dataRoot: p.dataRoot,
    durability: 'none',
    groupCommitRecordsMax: 4096,
    maxPendingWrites: p.count + 1024,
    maxUnappliedRecords: p.count + 1024,
  });
  await registry.createSpace(HTTP_BENCH_SPACE, { dimension: HTTP_BENCH_DIMENSION });
  const space = await registry.space(HTTP_BENCH_SPACE);
  const generator = new EmbeddingGenerator({ seed: p.seed, dimension: HTTP_BENCH_DIMENSION });
  const started = performance.now();
  const CHUNK = 2000;
  for (let from = 0; from < p.count; from += CHUNK) {
    const items = generator.take(Math.min(CHUNK, p.count - from));
    await Promise.all(
      items.map((item, i) =>
        space.remember({ id: `m${from + i}`, content: item.content, vector: item.vector }),
      ),
    );
  }
  const written = performance.now();
  let stats = await space.stats();
  while (stats.pendingApply > 0 || stats.indexedLsn !== stats.lastLsn || stats.indexBacklog > 0) {
    await sleep(100);
    stats = await space.stats();
  }
  const caughtUp = performance.now();
  await registry.close();
  send({
    type: 'prefilled',
    memories: stats.memories,
    writeMs: written - started,
    catchUpMs: caughtUp - written,
  });
}

/**
 * The in-process baseline: closed-loop callers of handle.recall, counted over a window kept by
 * the clock. A recall does no I/O, so its promise settles in microtasks: callers that only
 * awaited it would never let the event loop turn, and the engine's timers (the access-count
 * flush every accessFlushMs) would not run in the window as they do under HTTP load. So each
 * caller yields to the event loop (setImmediate) after each call, as an application doing
 * anything else would.
 */
async function recallInProcess(
  space: SpaceHandle,
  r: RecallRequest,
): Promise<Extract<ChildMessage, { type: 'recalled' }>> {
  const options = { k: r.k, includeSuppressed: false };
  const firstIds = (await space.recall(r.queries[0]!, options)).map((hit) => hit.memory.id);
  const t0 = performance.now() + r.warmupMs;
  const t1 = t0 + r.durationMs;
  let calls = 0;
  const latencies: number[] = [];
  // Each caller walks the query list from the start, as each autocannon connection does.
  const caller = async (): Promise<void> => {
    for (let i = 0; ; i++) {
      const started = performance.now();
      if (started >= t1) return;
      const hits = await space.recall(r.queries[i % r.queries.length]!, options);
      if (hits.length === 0) throw new Error('in-process recall returned no hits');
      const ended = performance.now();
      await yieldToEventLoop();
      // Counted when it ended inside the window, as autocannon counts responses.
      if (ended >= t0 && ended < t1) {
        calls += 1;
        latencies.push(ended - started);
      }
    }
  };
  await Promise.all(Array.from({ length: r.callers }, caller));
  return {
    type: 'recalled',
    perSec: calls / (r.durationMs / 1000),
    count: calls,
    seconds: r.durationMs / 1000,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    firstIds,
  };
}

async function engineServer(p: EngineParams): Promise<void> {
  const started = performance.now();
  const registry = await Registry.open({ dataRoot: p.dataRoot, durability: p.durability });
  const space = await registry.space(HTTP_BENCH_SPACE);
  const stats = await space.stats(); // opens the space (index snapshot loaded) before serving
  if (stats.pendingApply !== 0)
    throw new Error(`space opened with a backlog of ${stats.pendingApply}`);
  const openMs = performance.now() - started;
  const app = buildHttpApp({ engine: registry, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.on('message', (message: RecallRequest) => {
    if (message.type !== 'recall') return;
    recallInProcess(space, message).then(send, (error: unknown) =>
      send({ type: 'failed', message: String(error) }),
    );
  });
  send({ type: 'ready', port: address.port, memories: stats.memories, openMs });
}

async function bareServer(): Promise<void> {
  let lsn = 0;
  const app = Fastify({ bodyLimit: HTTP_DEFAULTS.bodyLimitBytes });
  app.post('/api/v1/memories/remember', (request, reply) => {
    const body = request.body as { content?: string };
    const id = randomUUID();
    const now = new Date().toISOString();
    lsn += 1;
    // The shape of the engine's 201 body (memory_id, lsn, then the memory itself).
    return reply.status(201).send({
      memory_id: id,
      lsn,
      id,
      memory_space: HTTP_BENCH_SPACE,
      content: body.content ?? '',
      confidence: 1,
      memory_type: 'semantic',
      tags: [],
      metadata: {},
      observed_at: now,
      stored_at: now,
      updated_at: now,
      suppressed: false,
      has_embedding: true,
      access_count: 0,
      last_access: null,
    });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  send({ type: 'ready', port: address.port });
}

async function main(): Promise<void> {
  const [kind, json] = process.argv.slice(2);
  if (!process.send || json === undefined) {
    console.error('usage (with an IPC channel): http-server-child.ts <prefill|engine|bare> <json>');
    process.exit(2);
  }
  // With --profile the benchmark disconnects instead of killing: the profile is written first.
  const stopProfile = await startProfile(`http-${kind}`);
  process.on('disconnect', () => {
    void stopProfile().finally(() => process.kill(process.pid, 'SIGKILL'));
  });
  const params = JSON.parse(json) as unknown;
  switch (kind) {
    case 'prefill':
      return prefill(params as PrefillParams);
    case 'engine':
      return engineServer(params as EngineParams);
    case 'bare':
      return bareServer();
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

// Run only as a program: the benchmark imports this module for its constants and types.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    if (process.send) send({ type: 'failed', message: String(error) });
    console.error('http-server-child failed:', error);
    process.exitCode = 1;
  });
}
