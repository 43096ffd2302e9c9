/**
 * multi-tenant: what 1,000 open spaces cost a recall. Recall p50 (k = 10, by vector) when the
 * data root holds 1 space, against the same when it holds 1,000 spaces of the same size each,
 * every one of them open, the queries spread over all of them.
 *
 * Setup, once: a child fills one space (client 384-d vectors) and closes it; its directory is
 * copied 1,000 times (space.json id patched), which is what 1,000 filled spaces leave. Each
 * repetition runs fresh processes (order alternating): one opens the 1-space root, one the
 * 1,000-space root; each opens every space, then times registry.space(id) + recall over the same
 * held-out queries (the 1,000-space process sends query i to space i mod 1,000). Target: the
 * 1,000-space p50 at most 3% above the 1-space p50.
 *
 * Spreading the queries over 1,000 spaces touches 1,000 times the data of one space, so that
 * figure mixes what the engine's tenancy costs (the registry lookup, per-space state, 1,000
 * graphs on the index thread) with the cache misses any system pays for a 1,000-times larger
 * working set. A third process per repetition separates the first: the same 1,000 open spaces,
 * every query sent to one of them (the same queries, the same space size as the 1-space run),
 * with the same <= 3% target.
 *
 * What the machine itself charges for spreading queries over 1,000 graphs is measured too, in
 * two more fresh processes per repetition: raw hnswlib-node searchKnn over 1 index against 1,000
 * copies of it (one index of the same vectors, M, efConstruction and ef, written once and read
 * back 1,000 times), the same query sequence. That row has no target: it separates the cache
 * and TLB misses of touching 1,000 graphs from what the engine adds.
 */
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { ENGINE_DEFAULTS, Registry } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  makeTempDir,
  quantile,
  removeTempDir,
  runChild,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';
import { prefillTemplate } from '../prefill.ts';
import { copySpace } from './startup-10k.ts';

const SEED = 83;
const K = 10;
const QUERIES = 500;
const TEMPLATE = 'template';
const DIMENSION = 384;

const spaceId = (i: number) => `tenant-${String(i).padStart(5, '0')}`;

interface TenantParams {
  dataRoot: string;
  spaces: number;
  /** Every query goes to the first space (the others stay open and idle). */
  oneTarget?: boolean;
  perSpace: number;
  recalls: number;
}

export interface TenantResult {
  openAllMs: number;
  p50Ms: number;
  p99Ms: number;
  rssBytes: number;
}

export async function multiTenantTask(p: TenantParams): Promise<TenantResult> {
  const registry = await Registry.open({
    dataRoot: p.dataRoot,
    maxOpenSpaces: p.spaces + 1,
    maxSpaces: Math.max(p.spaces, 10_000),
  });
  const ids = Array.from({ length: p.spaces }, (_, i) => spaceId(i));
  const t0 = performance.now();
  for (const id of ids) {
    const stats = await (await registry.space(id)).stats();
    if (stats.memories !== p.perSpace || stats.pendingApply !== 0) {
      throw new Error(
        `space ${id} opened with ${stats.memories} memories, ${stats.pendingApply} pending`,
      );
    }
  }
  const openAllMs = performance.now() - t0;
  const generator = new EmbeddingGenerator({ seed: SEED, dimension: DIMENSION });
  generator.take(p.perSpace); // the stored ones
  const queries = generator.take(QUERIES).map((item) => item.vector);
  return timeQueries(p.recalls, openAllMs, async (n) => {
    const space = await registry.space(p.oneTarget ? ids[0]! : ids[n % ids.length]!);
    return (await space.recall(queries[n % QUERIES]!, { k: K })).length;
  });
}

/**
 * One warm-up round over every query, then `recalls` timed calls of `query(n)`, which answers
 * how many hits it got (K, or the run fails).
 */
async function timeQueries(
  recalls: number,
  openAllMs: number,
  query: (n: number) => number | Promise<number>,
): Promise<TenantResult> {
  const latencies: number[] = [];
  for (let i = -QUERIES; i < recalls; i++) {
    const n = i < 0 ? i + QUERIES : i;
    const t = performance.now();
    const hits = await query(n);
    const ms = performance.now() - t;
    if (hits !== K) throw new Error(`a query returned ${hits} hits`);
    if (i >= 0) latencies.push(ms);
  }
  return {
    openAllMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    rssBytes: process.memoryUsage().rss,
  };
}

interface RawTenantParams {
  dir: string;
  indexes: number;
  perSpace: number;
  recalls: number;
}

/** Raw hnswlib: one index of the template's vectors, read back `indexes` times, then searched. */
export function rawTenantTask(p: RawTenantParams): Promise<TenantResult> {
  const generator = new EmbeddingGenerator({ seed: SEED, dimension: DIMENSION });
  const stored = generator.take(p.perSpace);
  const queries = generator.take(QUERIES).map((item) => Array.from(item.vector));
  const ef = Math.max(ENGINE_DEFAULTS.hnswEfSearch, 2 * K);
  const file = join(p.dir, 'raw.hnsw');
  const built = new hnswlib.HierarchicalNSW('cosine', DIMENSION);
  built.initIndex({
    maxElements: p.perSpace,
    m: ENGINE_DEFAULTS.hnswM,
    efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
    randomSeed: 100,
  });
  stored.forEach((item, i) => built.addPoint(Array.from(item.vector), i));
  built.writeIndexSync(file);
  const t0 = performance.now();
  const indexes = Array.from({ length: p.indexes }, () => {
    const index = new hnswlib.HierarchicalNSW('cosine', DIMENSION);
    index.readIndexSync(file);
    index.setEf(ef);
    return index;
  });
  const openAllMs = performance.now() - t0;
  return timeQueries(
    p.recalls,
    openAllMs,
    (n) => indexes[n % indexes.length]!.searchKnn(queries[n % QUERIES]!, K).neighbors.length,
  );
}

async function buildRoot(template: string, spaces: number): Promise<string> {
  const root = await makeTempDir(`tenants-${spaces}`);
  const ids = Array.from({ length: spaces }, (_, i) => spaceId(i));
  for (let i = 0; i < ids.length; i += 32) {
    await Promise.all(
      ids.slice(i, i + 32).map((id) => copySpace(join(template, TEMPLATE), join(root, id), id)),
    );
  }
  return root;
}

export const multiTenant: Benchmark = {
  name: 'multi-tenant',
  description: 'recall p50 with 1 space vs with 1,000 open spaces of the same size',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 2;
    const spaces = 1000;
    const perSpace = Math.round(1000 * ctx.scale);
    const recalls = 4000;
    const template = await makeTempDir('tenant-template');
    const roots: string[] = [];
    const engine: number[] = [];
    const baseline: number[] = [];
    const oneTarget = { engine: [] as number[], baseline: [] as number[], p99Ms: [] as number[] };
    const raw = { many: [] as number[], one: [] as number[] };
    const details: Record<string, number[]> = {
      p99Ms1000: [],
      p99Ms1: [],
      openAllMs1000: [],
      rssMiB1000: [],
      rssMiB1: [],
    };
    try {
      await prefillTemplate({
        dataRoot: template,
        space: TEMPLATE,
        count: perSpace,
        seed: SEED,
        dimension: DIMENSION,
      });
      const started = performance.now();
      const one = await buildRoot(template, 1);
      const many = await buildRoot(template, spaces);
      roots.push(one, many);
      ctx.log(
        `template of ${perSpace} memories; ${spaces} copies made in ${Math.round(performance.now() - started)} ms`,
      );
      const measure = (dataRoot: string, n: number, queryOne = false) =>
        runChild<TenantResult>(
          'multi-tenant:run',
          { dataRoot, spaces: n, perSpace, recalls, oneTarget: queryOne },
          { profileDir: ctx.profileDir, timeoutMs: 900_000 },
        );
      for (let rep = 0; rep < reps; rep++) {
        let single: TenantResult;
        let multi: TenantResult;
        let hot: TenantResult;
        if (rep % 2 === 0) {
          single = await measure(one, 1);
          multi = await measure(many, spaces);
          hot = await measure(many, spaces, true);
        } else {
          hot = await measure(many, spaces, true);
          multi = await measure(many, spaces);
          single = await measure(one, 1);
        }
        oneTarget.engine.push(hot.p50Ms);
        oneTarget.baseline.push(single.p50Ms);
        oneTarget.p99Ms.push(hot.p99Ms);
        const rawDir = await makeTempDir('tenant-raw');
        try {
          const rawRun = (indexes: number) =>
            runChild<TenantResult>(
              'multi-tenant:raw',
              { dir: rawDir, indexes, perSpace, recalls },
              { profileDir: undefined, timeoutMs: 600_000 },
            );
          raw.one.push((await rawRun(1)).p50Ms);
          raw.many.push((await rawRun(spaces)).p50Ms);
        } finally {
          await removeTempDir(rawDir);
        }
        engine.push(multi.p50Ms);
        baseline.push(single.p50Ms);
        details.p99Ms1000!.push(multi.p99Ms);
        details.p99Ms1!.push(single.p99Ms);
        details.openAllMs1000!.push(multi.openAllMs);
        details.rssMiB1000!.push(multi.rssBytes / 2 ** 20);
        details.rssMiB1!.push(single.rssBytes / 2 ** 20);
        ctx.log(
          `rep ${rep + 1}/${reps}: p50 ${multi.p50Ms.toFixed(3)} ms with ${spaces} spaces (opened in ${Math.round(multi.openAllMs)} ms, RSS ${Math.round(multi.rssBytes / 2 ** 20)} MiB), ` +
            `${hot.p50Ms.toFixed(3)} ms with ${spaces} open and every query to one, ` +
            `${single.p50Ms.toFixed(3)} ms with 1 (RSS ${Math.round(single.rssBytes / 2 ** 20)} MiB); ` +
            `raw hnswlib ${raw.many.at(-1)!.toFixed(3)} ms over ${spaces} indexes, ${raw.one.at(-1)!.toFixed(3)} ms over 1`,
        );
      }
    } finally {
      await removeTempDir(template);
      for (const root of roots) await removeTempDir(root);
    }
    return {
      parameters: {
        spaces,
        memoriesPerSpace: perSpace,
        dimension: DIMENSION,
        k: K,
        queries: QUERIES,
        recalls,
        repetitions: reps,
        seed: SEED,
      },
      method: [
        `Setup: one space of ${perSpace} memories (client vectors) filled, applied, indexed and closed by a child; its directory copied ${spaces} times.`,
        `Each repetition: three fresh processes (1 space; ${spaces} spaces, queries spread; ${spaces} spaces, queries to one), order alternating. Each opens its data root (maxOpenSpaces above the count), opens every space, then runs one warm-up round of ${QUERIES} held-out queries and ${recalls} timed calls of registry.space(id) + recall(k=${K}); with ${spaces} spaces query i goes to space i mod ${spaces}.`,
        'Ratio = p50 with 1,000 spaces / p50 with 1 space (lower is better); target <= 1.03 (overhead <= 3%).',
        `Second row: a third fresh process per repetition opens the same ${spaces} spaces and sends every query to the first of them (same queries, same space size as the 1-space run): the engine's tenancy overhead without the ${spaces}-times larger working set; same target.`,
        `Third row, no target: raw hnswlib searchKnn (same vectors, M, efConstruction, ef = max(hnswEfSearch, 2k)) over ${spaces} copies of one index read back from a file, against 1 index, in two more fresh processes per repetition, with the same query sequence: what touching ${spaces} graphs costs on this machine without the engine.`,
      ],
      rows: [
        {
          case: `recall p50, ${spaces} spaces of ${perSpace} vs 1 space`,
          unit: 'ms',
          higherIsBetter: false,
          engineLabel: `${spaces} open spaces`,
          baselineLabel: '1 space',
          engine,
          baseline,
          target: { on: 'ratio', op: '<=', value: 1.03 },
          details,
        },
        {
          case: `recall p50, ${spaces} open spaces of ${perSpace}, all queries to one, vs 1 space`,
          unit: 'ms',
          higherIsBetter: false,
          engineLabel: `${spaces} open spaces, queries to one`,
          baselineLabel: '1 space',
          engine: oneTarget.engine,
          baseline: oneTarget.baseline,
          target: { on: 'ratio', op: '<=', value: 1.03 },
          details: { p99Ms1000: oneTarget.p99Ms },
        },
        {
          case: `raw hnswlib search p50, ${spaces} indexes vs 1`,
          unit: 'ms',
          higherIsBetter: false,
          engineLabel: `raw hnswlib, ${spaces} indexes`,
          baselineLabel: 'raw hnswlib, 1 index',
          engine: raw.many,
          baseline: raw.one,
        },
      ],
    };
  },
};
