/**
 * recall-quality: recall latency (p50/p99) and recall@10 of every recall mode, in process, next
 * to raw hnswlib-node search on the same vectors with the same M, efConstruction and ef, and to
 * an exact full scan, in the same process and run.
 *
 * Data (bench/data.ts generateCorpus): N memories with clustered 384-d (or 768-d) vectors shaped
 * like sentence embeddings and generated texts; 200 held-out queries (vectors of the same
 * clusters, never stored) whose text is a planted term plus a common word. The
 * planted term occurs in exactly 10 memories.
 *
 * Ground truth per mode:
 * - similarity, spreading: the exact top 10 by cosine (full scan). No associations are stored,
 *   so spreading returns its seeds: its figures are the cost of the mode, not of the spread.
 * - lexical: the 10 memories carrying the query's planted term.
 * - hybrid: the exact top 10 of 0.5 * max(0, cosine) + 0.5 * BM25 / best BM25 over every
 *   memory (BM25 from the engine's LexicalIndex, exact by construction; the approximation
 *   measured is the engine's candidate pooling).
 *
 * Text queries reach the query vector through a lookup embedder registered for the benchmark
 * (Registry deps.embedders): the held-out query texts map to their vectors, anything else fails.
 * Each query runs raw hnswlib, then each engine mode, one after another, so drift hits all alike.
 * The exact scan's latency is timed while computing the ground truth.
 *
 * recall-quality runs 10k x 384 and 10k x 768 (scaled); recall-quality-100k (opt-in: name it)
 * runs 100k x 384, whose raw hnswlib build alone takes over a minute here.
 */
import hnswlib from 'hnswlib-node';
import { ENGINE_DEFAULTS, type Embedder, type RecallMode } from '../../engine/index.ts';
import { LexicalIndex } from '../../engine/lexical-index.ts';
import { exactTopK, dot, generateCorpus, recallAt, type Corpus } from '../data.ts';
import {
  makeTempDir,
  quantile,
  removeTempDir,
  runChild,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
  type Row,
} from '../lib.ts';
import { openBulkRegistry, storeItems, waitUntilApplied } from '../prefill.ts';

const SEED = 71;
const K = 10;
const QUERIES = 200;
const SPACE = 'quality';
const LOOKUP = 'bench-lookup';
const MODES = ['similarity', 'lexical', 'hybrid', 'spreading'] as const satisfies RecallMode[];

const TRUTH: Record<(typeof MODES)[number], string> = {
  similarity: 'exact cosine top 10',
  lexical: 'the 10 memories holding the planted term',
  hybrid: 'exact hybrid top 10 (full scan)',
  spreading: 'exact cosine top 10 (no associations stored)',
};

interface Latency {
  p50Ms: number;
  p99Ms: number;
}

interface ModeStats extends Latency {
  /** Mean recall@10 against the mode's ground truth. */
  recall: number;
}

export interface QualityResult {
  memories: number;
  dimension: number;
  fillMs: number;
  catchUpMs: number;
  rawBuildMs: number;
  exact: Latency;
  raw: ModeStats;
  modes: Record<(typeof MODES)[number], ModeStats>;
}

/** Embeds only the benchmark's query texts, to their held-out vectors; anything else fails. */
class LookupEmbedder implements Embedder {
  readonly name = LOOKUP;
  constructor(
    readonly dimension: number,
    private readonly vectors: ReadonlyMap<string, Float32Array>,
  ) {}

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((text) => {
      const vector = this.vectors.get(text);
      if (!vector) throw new Error(`bench lookup embedder: unknown text "${text.slice(0, 40)}"`);
      return vector;
    });
  }
}

function latency(samples: number[]): Latency {
  return { p50Ms: quantile(samples, 0.5), p99Ms: quantile(samples, 0.99) };
}

/** The exact hybrid top k of one query: full scan of cosines and BM25 scores. */
function exactHybrid(corpus: Corpus, lexical: LexicalIndex, q: number): string[] {
  const query = corpus.queries[q]!;
  const bm25 = new Map(lexical.search(query.text).map((r) => [r.id, r.score]));
  const best = bm25.size ? Math.max(...bm25.values()) : 0;
  return corpus.memories
    .map((m) => ({
      id: m.id,
      score:
        0.5 * Math.max(0, dot(m.vector, query.vector)) +
        0.5 * (best > 0 ? (bm25.get(m.id) ?? 0) / best : 0),
    }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, K)
    .map((r) => r.id);
}

interface Truth {
  similarity: string[][];
  hybrid: string[][];
  exactMs: number[];
}

function groundTruth(corpus: Corpus): Truth {
  const vectors = corpus.memories.map((m) => m.vector);
  const exactMs: number[] = [];
  const similarity = corpus.queries.map((query) => {
    const t = performance.now();
    const top = exactTopK(vectors, query.vector, K);
    exactMs.push(performance.now() - t);
    return top.map((r) => `m${r.index}`);
  });
  const lexical = new LexicalIndex();
  for (const m of corpus.memories) lexical.set(m.id, m.content);
  const hybrid = corpus.queries.map((_, q) => exactHybrid(corpus, lexical, q));
  return { similarity, hybrid, exactMs };
}

function buildRaw(corpus: Corpus, dimension: number): hnswlib.HierarchicalNSW {
  const index = new hnswlib.HierarchicalNSW('cosine', dimension);
  index.initIndex({
    maxElements: corpus.memories.length,
    m: ENGINE_DEFAULTS.hnswM,
    efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
    randomSeed: 100,
  });
  corpus.memories.forEach((m, i) => index.addPoint(Array.from(m.vector), i));
  // The engine searches with ef = max(hnswEfSearch, its pool of 2k): the default for k = 10.
  index.setEf(Math.max(ENGINE_DEFAULTS.hnswEfSearch, 2 * K));
  return index;
}

export async function recallQualityTask(p: {
  dataRoot: string;
  memories: number;
  dimension: number;
  passes: number;
}): Promise<QualityResult> {
  const corpus = generateCorpus({
    seed: SEED,
    memories: p.memories,
    queries: QUERIES,
    dimension: p.dimension,
  });
  const truth = groundTruth(corpus);
  const t0 = performance.now();
  const raw = buildRaw(corpus, p.dimension);
  const rawBuildMs = performance.now() - t0;

  const byText = new Map(corpus.queries.map((q) => [q.text, q.vector]));
  const registry = await openBulkRegistry(p.dataRoot, p.memories, {
    embedders: { [LOOKUP]: (d) => new LookupEmbedder(d ?? p.dimension, byText) },
  });
  await registry.createSpace(SPACE, { dimension: p.dimension, embedder: LOOKUP });
  const space = await registry.space(SPACE);
  const t1 = performance.now();
  await storeItems(space, corpus.memories);
  const t2 = performance.now();
  await waitUntilApplied(space);
  const t3 = performance.now();

  const plainQueries = corpus.queries.map((q) => Array.from(q.vector));
  const samples = { raw: [] as number[], ...Object.fromEntries(MODES.map((m) => [m, []])) } as {
    raw: number[];
  } & Record<(typeof MODES)[number], number[]>;
  const recalls = { raw: [] as number[], ...Object.fromEntries(MODES.map((m) => [m, []])) } as {
    raw: number[];
  } & Record<(typeof MODES)[number], number[]>;
  const truthOf = (mode: (typeof MODES)[number], q: number): string[] =>
    mode === 'lexical'
      ? corpus.queries[q]!.planted
      : mode === 'hybrid'
        ? truth.hybrid[q]!
        : truth.similarity[q]!;
  // Pass 0 warms every path up and is not counted.
  for (let pass = 0; pass <= p.passes; pass++) {
    for (let q = 0; q < corpus.queries.length; q++) {
      const query = corpus.queries[q]!;
      let t = performance.now();
      const { neighbors } = raw.searchKnn(plainQueries[q]!, K);
      const rawMs = performance.now() - t;
      if (pass > 0) {
        samples.raw.push(rawMs);
        recalls.raw.push(
          recallAt(
            neighbors.map((i) => `m${i}`),
            truth.similarity[q]!,
          ),
        );
      }
      for (const mode of MODES) {
        const input = mode === 'lexical' || mode === 'hybrid' ? query.text : query.vector;
        t = performance.now();
        const hits = await space.recall(input, { k: K, mode });
        const ms = performance.now() - t;
        if (pass === 0) continue;
        samples[mode].push(ms);
        recalls[mode].push(
          recallAt(
            hits.map((h) => h.memory.id),
            truthOf(mode, q),
          ),
        );
      }
    }
  }
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const stats = (key: 'raw' | (typeof MODES)[number]): ModeStats => ({
    ...latency(samples[key]),
    recall: mean(recalls[key]),
  });
  return {
    memories: p.memories,
    dimension: p.dimension,
    fillMs: t2 - t1,
    catchUpMs: t3 - t2,
    rawBuildMs,
    exact: latency(truth.exactMs),
    raw: stats('raw'),
    modes: Object.fromEntries(MODES.map((m) => [m, stats(m)])) as QualityResult['modes'],
  };
}

interface Case {
  memories: number;
  dimension: number;
}

/** The rows of one case (size x dimension), filled from every repetition's result. */
function rowsFor(label: string, results: QualityResult[]): Row[] {
  const sim = (r: QualityResult) => r.modes.similarity;
  const row = (
    partial: Omit<Row, 'engine' | 'baseline'>,
    e: (r: QualityResult) => number,
    b: (r: QualityResult) => number,
  ): Row => ({
    ...partial,
    engine: results.map(e),
    baseline: results.map(b),
  });
  const ms = { unit: 'ms', higherIsBetter: false } as const;
  const recall = { unit: 'recall@10', higherIsBetter: true } as const;
  const rawLabel = 'raw hnswlib searchKnn, same vectors, M, efC, ef';
  const rows: Row[] = [
    row(
      {
        ...ms,
        case: `${label} similarity recall p50`,
        engineLabel: 'engine recall (similarity)',
        baselineLabel: rawLabel,
      },
      (r) => sim(r).p50Ms,
      (r) => r.raw.p50Ms,
    ),
    row(
      {
        ...ms,
        case: `${label} similarity recall p99`,
        engineLabel: 'engine recall (similarity)',
        baselineLabel: rawLabel,
        target: { on: 'ratio', op: '<=', value: 1.5 },
      },
      (r) => sim(r).p99Ms,
      (r) => r.raw.p99Ms,
    ),
    row(
      {
        ...recall,
        case: `${label} similarity recall@10 vs exact`,
        engineLabel: 'engine recall (similarity)',
        baselineLabel: rawLabel,
        target: { on: 'engine', op: '>=', value: 0.95 },
      },
      (r) => sim(r).recall,
      (r) => r.raw.recall,
    ),
    row(
      {
        ...ms,
        case: `${label} similarity recall p50 vs exact scan`,
        engineLabel: 'engine recall (similarity)',
        baselineLabel: 'exact full scan (JS)',
        details: { exactP99Ms: results.map((r) => r.exact.p99Ms) },
      },
      (r) => sim(r).p50Ms,
      (r) => r.exact.p50Ms,
    ),
  ];
  for (const mode of MODES.filter((m) => m !== 'similarity')) {
    rows.push(
      row(
        {
          ...ms,
          case: `${label} ${mode} recall p50`,
          engineLabel: `engine recall (${mode})`,
          baselineLabel: rawLabel,
          details: {
            engineP99Ms: results.map((r) => r.modes[mode].p99Ms),
            rawP99Ms: results.map((r) => r.raw.p99Ms),
          },
        },
        (r) => r.modes[mode].p50Ms,
        (r) => r.raw.p50Ms,
      ),
      row(
        {
          ...recall,
          case: `${label} ${mode} recall@10 vs ${TRUTH[mode]}`,
          engineLabel: `engine recall (${mode})`,
          baselineLabel: 'ground truth',
        },
        (r) => r.modes[mode].recall,
        () => 1,
      ),
    );
  }
  return rows;
}

function qualityBenchmark(
  name: string,
  description: string,
  cases: (scale: number) => Case[],
  defaultReps: number,
  optIn: boolean,
): Benchmark {
  return {
    name,
    description,
    optIn,
    async run(ctx: BenchContext): Promise<BenchOutput> {
      const reps = ctx.reps ?? defaultReps;
      // 5 measured passes of 200 queries: 1,000 samples per mode, so p99 is the 10th slowest
      // call rather than the 4th of 400, which one scheduler hiccup on a shared machine moved.
      const passes = 5;
      const results = new Map<string, QualityResult[]>();
      const all = cases(ctx.scale);
      for (let rep = 0; rep < reps; rep++) {
        for (const c of all) {
          const label = `${c.memories} x ${c.dimension}`;
          const dataRoot = await makeTempDir('recall-quality');
          try {
            const r = await runChild<QualityResult>(
              'recall-quality:run',
              { dataRoot, memories: c.memories, dimension: c.dimension, passes },
              { profileDir: ctx.profileDir, timeoutMs: 3_600_000 },
            );
            results.set(label, [...(results.get(label) ?? []), r]);
            const s = r.modes.similarity;
            ctx.log(
              `rep ${rep + 1}/${reps} ${label}: similarity p50 ${s.p50Ms.toFixed(3)} p99 ${s.p99Ms.toFixed(3)} ms recall@10 ${s.recall.toFixed(3)}; ` +
                `raw hnswlib p50 ${r.raw.p50Ms.toFixed(3)} p99 ${r.raw.p99Ms.toFixed(3)} ms recall@10 ${r.raw.recall.toFixed(3)}; ` +
                `exact p50 ${r.exact.p50Ms.toFixed(2)} ms; lexical ${r.modes.lexical.recall.toFixed(3)}, hybrid ${r.modes.hybrid.recall.toFixed(3)}, ` +
                `spreading ${r.modes.spreading.recall.toFixed(3)}; raw build ${Math.round(r.rawBuildMs)} ms, engine fill ${Math.round(r.fillMs)} + catch-up ${Math.round(r.catchUpMs)} ms`,
            );
          } finally {
            await removeTempDir(dataRoot);
          }
        }
      }
      return {
        parameters: {
          cases: all,
          repetitions: reps,
          queries: QUERIES,
          k: K,
          measuredPasses: passes,
          seed: SEED,
          hnsw: {
            m: ENGINE_DEFAULTS.hnswM,
            efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
            efSearch: Math.max(ENGINE_DEFAULTS.hnswEfSearch, 2 * K),
          },
          groundTruth: TRUTH,
        },
        method: [
          'A fresh process per repetition and case: seeded corpus (clustered unit vectors, generated texts, 200 held-out queries with a planted term in exactly 10 memories each), ground truth by full scan, raw hnswlib index built from the same vectors (cosine, M=16, efConstruction=200, seed 100, the same ef as the engine (max(hnswEfSearch, 2k))), then the engine fills a space (client vectors, durability none) and waits until the index has applied everything.',
          `Per query, in turn: raw searchKnn(k=10), then engine recall k=10 in each mode (similarity and spreading by vector, lexical and hybrid by text through a lookup embedder that maps the query texts to their vectors); one warm-up pass, then ${passes} measured passes. Latency is per call; recall@10 is the mean share of the ground truth found.`,
          `Ground truth: ${MODES.map((m) => `${m}: ${TRUTH[m]}`).join('; ')}. The exact scan baseline is the ground-truth scan itself, timed per query.`,
          'Ratios are engine / baseline per repetition (for latency lower is better); targets: similarity p99 within 1.5x of raw hnswlib, similarity recall@10 >= 0.95.',
        ],
        rows: [...results].flatMap(([label, rs]) => rowsFor(label, rs)),
      };
    },
  };
}

export const recallQuality = qualityBenchmark(
  'recall-quality',
  'recall p50/p99 + recall@10 per mode vs raw hnswlib and exact scan, 10k x 384 and x 768',
  (scale) => [384, 768].map((dimension) => ({ memories: Math.round(10_000 * scale), dimension })),
  1,
  false,
);

export const recallQuality100k = qualityBenchmark(
  'recall-quality-100k',
  'as recall-quality at 100k x 384 (opt-in: several minutes; run it by name)',
  (scale) => [{ memories: Math.round(100_000 * scale), dimension: 384 }],
  1,
  true,
);
