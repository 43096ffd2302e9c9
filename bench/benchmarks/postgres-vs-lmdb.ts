/**
 * postgres-vs-lmdb: the PostgreSQL + pgvector backend (in process on PGlite) against the
 * embedded LMDB backend, on the same seeded data, in the same run (issue 9).
 *
 * Data (bench/data.ts, seed 41, 384-d clustered unit vectors with ~100-character contents): the
 * generator's first items are the held-out queries (never inserted) and a few warm-up queries,
 * the following ones the memories. A smaller data set is therefore a prefix of a larger one
 * and the queries are the same at every size.
 *
 * Each repetition runs one fresh child process per backend (bench/child.ts; the order alternates
 * between repetitions). A child opens its backend (LMDB: a fresh data root; PGlite: a fresh
 * in-memory database, migrated, as the application role with row-level security, as
 * test/helpers/postgres-pglite.ts does), creates one space of dimension 384, then:
 *
 * - inserts: WRITERS closed-loop writers call remember() with client vectors until every record
 *   is acknowledged. LMDB acknowledges once the record is in its log; the warm tier and the HNSW
 *   index catch up in the background, so the child then polls stats() until pendingApply is 0
 *   and indexedLsn equals lastLsn. Ack rate = records / time to the last ack; caught-up rate =
 *   records / time until the index has applied everything. PostgreSQL acknowledges at commit,
 *   with the row and its HNSW entry written: both rates are the same figure (checked with
 *   stats()).
 * - recall: warm-up queries (PGlite: then ANALYZE, which autovacuum would run on a server, and
 *   the warm-up again; see openPglite), then the held-out queries one at a time (k = 10, mode
 *   similarity, the default ef_search on both), each call timed; p50/p99 over them.
 *
 * This process computes the exact top 10 of every query (cosine over all inserted vectors, by
 * brute force) and recall@10 = mean |hits ∩ exact| / 10. Every memory is stored with
 * confidence 1, so the engines' score is the cosine (see CONFIDENCE).
 *
 * Rows: engine = PGlite + pgvector, baseline = LMDB, ratio = PGlite / LMDB per repetition.
 */
import pg from 'pg';
import {
  ENGINE_DEFAULTS,
  openPostgresEngine,
  POSTGRES_DEFAULTS,
  Registry,
  type DurabilityMode,
  type SpaceHandle,
} from '../../engine/index.ts';
import { EMBEDDING_DIMENSION, EmbeddingGenerator, type Item } from '../data.ts';
import {
  formatNumber,
  makeTempDir,
  median,
  quantile,
  removeTempDir,
  runChild,
  sleep,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
  type Row,
} from '../lib.ts';

const SEED = 41;
const SPACE = 'bench';
const K = 10;
const WRITERS = 16;
const QUERIES = 300;
const WARMUP_QUERIES = 30;
/** Memories at scale 1: the data set, and LMDB's size. */
const RECORDS = 20_000;
/** PGlite's size at scale 1 unless ENGRAM_BENCH_PG_RECORDS says otherwise (see pgRecordsFor). */
const PG_RECORDS = 4_000;
const POLL_MS = 50;
/** Both backends run with these (the engine defaults; the same numbers on both sides). */
const HNSW = {
  m: ENGINE_DEFAULTS.hnswM,
  efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
  efSearch: ENGINE_DEFAULTS.hnswEfSearch,
};
const PG_ROLE = 'engram_app';
/**
 * Every memory is stored with confidence 1, so score = cosine and both engines' recall settles
 * on the first index fetch (2k rows, the default ef_search): the ANN path, which recall@10 judges. With
 * the default confidence (0.7) both engines keep fetching 4x more rows until the k-th weighed
 * score (0.91 x cosine) reaches the rawest cosine fetched; on this data a median query has ~90
 * (4k memories) / ~420 (20k) memories within that margin, so recall fetches 320-1280 rows with
 * ef_search raised to match: several times slower on both, and recall@10 near 1 for that reason.
 */
const CONFIDENCE = 1;

type Backend = 'lmdb' | 'pglite';

interface TaskParams {
  backend: Backend;
  records: number;
  queries: number;
  warmupQueries: number;
  writers: number;
  durability: DurabilityMode;
  /** LMDB only. */
  dataRoot?: string;
}

interface TaskResult {
  backend: Backend;
  records: number;
  memories: number;
  openMs: number;
  ackMs: number;
  caughtUpMs: number;
  pendingAtAck: number;
  /** After catching up, until the applier was idle (LMDB: a checkpoint being written). */
  settledMs: number;
  /** The warm-up recalls, timed (PGlite: before ANALYZE, so without the HNSW index). */
  warmupMs: number[];
  /** Time spent in Opened.beforeRecall (PGlite's ANALYZE). */
  beforeRecallMs: number;
  ackPerSec: number;
  caughtUpPerSec: number;
  latenciesMs: number[];
  /** Ids returned for each held-out query, best first. */
  hits: string[][];
  version?: string;
}

/** Queries first (held out: never inserted), then warm-up queries, then the memories. */
function dataset(
  records: number,
  queries: number,
  warmupQueries: number,
): {
  queries: Item[];
  warmup: Item[];
  items: Item[];
} {
  const gen = new EmbeddingGenerator({ seed: SEED, dimension: EMBEDDING_DIMENSION });
  const q = gen.take(queries);
  const warmup = gen.take(warmupQueries);
  return { queries: q, warmup, items: gen.take(records) };
}

const memoryId = (i: number) => `m${i}`;

async function insertAll(space: SpaceHandle, items: Item[], writers: number): Promise<void> {
  let next = 0;
  const writer = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const item = items[i]!;
      await space.remember({
        id: memoryId(i),
        content: item.content,
        vector: item.vector,
        confidence: CONFIDENCE,
      });
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
}

interface Opened {
  space: SpaceHandle;
  version?: string;
  /** Run between the inserts and the recall phase (PGlite: ANALYZE, see analyze()). */
  beforeRecall?: () => Promise<void>;
}

async function openLmdb(p: TaskParams): Promise<Opened> {
  const registry = await Registry.open({
    dataRoot: p.dataRoot!,
    durability: p.durability,
    consolidationIntervalMs: 0,
    hnswM: HNSW.m,
    hnswEfConstruction: HNSW.efConstruction,
    hnswEfSearch: HNSW.efSearch,
  });
  await registry.createSpace(SPACE, { dimension: EMBEDDING_DIMENSION });
  const space = await registry.space(SPACE);
  await space.stats(); // opens it now
  return { space };
}

async function openPglite(): Promise<Opened> {
  // Loaded here, not at the top: bench/child.ts imports this module for every task.
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const { vector: pgvector } = await import('@electric-sql/pglite-pgvector');
  const db = await PGlite.create({ extensions: { vector: pgvector } });
  const pool = new pg.Pool(createPgConfig(db));
  const engine = await openPostgresEngine({
    pool,
    schema: 'engram',
    role: PG_ROLE,
    migrate: true,
    hnswM: HNSW.m,
    hnswEfConstruction: HNSW.efConstruction,
    hnswEfSearch: HNSW.efSearch,
  });
  await engine.createSpace(SPACE, { dimension: EMBEDDING_DIMENSION });
  const space = await engine.space(SPACE);
  const { rows } = await db.query<{ pg: string; pgvector: string }>(
    `SELECT current_setting('server_version') AS pg,
       (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector`,
  );
  const v = rows[0];
  return {
    space,
    version: v ? `PostgreSQL ${v.pg}, pgvector ${v.pgvector}` : 'unknown',
    // PGlite runs PostgreSQL single-user, without the autovacuum workers that would ANALYZE the
    // space's partition on a server: with the statistics of an empty table the planner sorts a
    // scan of every row (an exact search) instead of using the HNSW index. ANALYZE (as the
    // database owner, like autovacuum) stands in for them.
    beforeRecall: async () => {
      await db.exec(`ANALYZE engram.memories`);
    },
  };
}

/** Child task "postgres-vs-lmdb:run": one backend, inserts then recall. */
export async function postgresVsLmdbTask(p: TaskParams): Promise<TaskResult> {
  const { queries, warmup, items } = dataset(p.records, p.queries, p.warmupQueries);
  const t0 = performance.now();
  const { space, version, beforeRecall } =
    p.backend === 'lmdb' ? await openLmdb(p) : await openPglite();
  const openMs = performance.now() - t0;

  const started = performance.now();
  await insertAll(space, items, p.writers);
  const acked = performance.now();
  let stats = await space.stats();
  const pendingAtAck = stats.pendingApply;
  while (stats.pendingApply > 0 || stats.indexedLsn !== stats.lastLsn || stats.indexBacklog > 0) {
    await sleep(POLL_MS);
    stats = await space.stats();
  }
  const caughtUp = performance.now();
  // Not part of the insert figures: let a checkpoint the applier may have started (an index
  // snapshot every 20k records) finish, so the recall phase does not share the cores with it.
  while (stats.applying) {
    await sleep(POLL_MS);
    stats = await space.stats();
  }
  const settledMs = performance.now() - caughtUp;
  if (stats.memories !== p.records)
    throw new Error(`${p.backend}: ${stats.memories} memories after ${p.records} inserts`);

  const warmupMs: number[] = [];
  for (const q of warmup) {
    const t = performance.now();
    await space.recall(q.vector, { k: K, mode: 'similarity' });
    warmupMs.push(performance.now() - t);
  }
  let beforeRecallMs = 0;
  if (beforeRecall) {
    const t = performance.now();
    await beforeRecall();
    beforeRecallMs = performance.now() - t;
    for (const q of warmup) await space.recall(q.vector, { k: K, mode: 'similarity' });
  }
  const latenciesMs: number[] = [];
  const hits: string[][] = [];
  for (const q of queries) {
    const t = performance.now();
    const result = await space.recall(q.vector, { k: K, mode: 'similarity' });
    latenciesMs.push(performance.now() - t);
    hits.push(result.map((h) => h.memory.id));
  }
  const ackMs = acked - started;
  const caughtUpMs = caughtUp - started;
  return {
    backend: p.backend,
    records: p.records,
    memories: stats.memories,
    openMs,
    ackMs,
    caughtUpMs,
    pendingAtAck,
    settledMs,
    warmupMs,
    beforeRecallMs,
    ackPerSec: p.records / (ackMs / 1000),
    caughtUpPerSec: p.records / (caughtUpMs / 1000),
    latenciesMs,
    hits,
    ...(version === undefined ? {} : { version }),
  };
}

/**
 * Exact top k of each query by cosine (unit vectors: the dot product), ids best first, among the
 * first n items for each n of `sizes` (each query is scored once against all items).
 */
function exactTopK(
  items: Item[],
  queries: Item[],
  k: number,
  sizes: number[],
): Map<number, string[][]> {
  const out = new Map(sizes.map((n) => [n, [] as string[][]]));
  const dimension = items[0]!.vector.length;
  const scores = new Float64Array(items.length);
  for (const q of queries) {
    const qv = q.vector;
    for (let i = 0; i < items.length; i++) {
      const v = items[i]!.vector;
      let s = 0;
      for (let d = 0; d < dimension; d++) s += qv[d]! * v[d]!;
      scores[i] = s;
    }
    for (const n of sizes) {
      const best: number[] = [];
      for (let i = 0; i < n; i++) {
        if (best.length === k && scores[i]! <= scores[best[k - 1]!]!) continue;
        let at = best.length;
        while (at > 0 && scores[best[at - 1]!]! < scores[i]!) at--;
        best.splice(at, 0, i);
        if (best.length > k) best.pop();
      }
      out.get(n)!.push(best.map(memoryId));
    }
  }
  return out;
}

function recallAtK(hits: string[][], truth: string[][], k: number): number {
  let found = 0;
  for (let q = 0; q < truth.length; q++) {
    const got = new Set((hits[q] ?? []).slice(0, k));
    for (const id of truth[q]!) if (got.has(id)) found += 1;
  }
  return found / (truth.length * k);
}

/**
 * PGlite's size: PG_RECORDS x scale by default (PGlite inserts through the engine at ~100-150/s
 * on a 2-core machine, so 20k would take 2-3 minutes per repetition), ENGRAM_BENCH_PG_RECORDS to
 * choose (e.g. 20000 for the full data set); never more than LMDB's.
 */
function pgRecordsFor(records: number, scale: number): { n: number; source: string } {
  const raw = process.env.ENGRAM_BENCH_PG_RECORDS;
  if (raw === undefined || raw === '') {
    return {
      n: Math.min(records, Math.max(100, Math.round(PG_RECORDS * scale))),
      source: 'default',
    };
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error('ENGRAM_BENCH_PG_RECORDS must be a positive integer');
  return { n: Math.min(n, records), source: 'ENGRAM_BENCH_PG_RECORDS' };
}

interface Measured {
  ackPerSec: number;
  caughtUpPerSec: number;
  p50Ms: number;
  p99Ms: number;
  recallAt10: number;
}

function summarise(r: TaskResult, truth: string[][]): Measured {
  return {
    ackPerSec: r.ackPerSec,
    caughtUpPerSec: r.caughtUpPerSec,
    p50Ms: quantile(r.latenciesMs, 0.5),
    p99Ms: quantile(r.latenciesMs, 0.99),
    recallAt10: recallAtK(r.hits, truth, K),
  };
}

type MetricKey = keyof Measured;

const METRICS: ReadonlyArray<{
  key: MetricKey;
  unit: string;
  higherIsBetter: boolean;
  name: (label: string) => string;
}> = [
  {
    key: 'ackPerSec',
    unit: 'inserts/s',
    higherIsBetter: true,
    name: (label) => `remember ack rate, ${label}, ${WRITERS} writers`,
  },
  {
    key: 'caughtUpPerSec',
    unit: 'inserts/s',
    higherIsBetter: true,
    name: (label) => `remember until indexed (pendingApply 0), ${label}, ${WRITERS} writers`,
  },
  {
    key: 'p50Ms',
    unit: 'ms',
    higherIsBetter: false,
    name: (label) => `recall p50, k=${K} similarity, ${label}`,
  },
  {
    key: 'p99Ms',
    unit: 'ms',
    higherIsBetter: false,
    name: (label) => `recall p99, k=${K} similarity, ${label}`,
  },
  {
    key: 'recallAt10',
    unit: 'recall@10',
    higherIsBetter: true,
    name: (label) => `recall@${K} vs exact, ${QUERIES} held-out queries, ${label}`,
  },
];

/** The benchmark's own table: both backends side by side, plus LMDB on the full data set. */
function comparisonTable(rows: Row[], fullKey: string | undefined, records: number): string[] {
  const header = ['metric', 'PGlite+pgvector', 'LMDB', 'PGlite/LMDB'];
  if (fullKey) header.push(`LMDB @ ${records}`);
  const cells = rows.map((r) => {
    const ratio = median(r.engine.map((e, i) => e / r.baseline[i]!));
    const out = [
      `${r.case} (${r.unit})`,
      formatNumber(median(r.engine)),
      formatNumber(median(r.baseline)),
      formatNumber(ratio),
    ];
    if (fullKey) out.push(formatNumber(median(r.details?.[fullKey] ?? [])));
    return out;
  });
  const all = [header, ...cells];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
}

const describe = (m: Measured): string =>
  `${Math.round(m.ackPerSec)} acks/s, ${Math.round(m.caughtUpPerSec)} indexed/s, ` +
  `p50 ${formatNumber(m.p50Ms)} ms, p99 ${formatNumber(m.p99Ms)} ms, recall@10 ${formatNumber(m.recallAt10)}`;

export const postgresVsLmdb: Benchmark = {
  name: 'postgres-vs-lmdb',
  description:
    'PGlite+pgvector vs LMDB backend: remember inserts/s, recall p50/p99 and recall@10 (384-d)',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 3;
    const records = Math.max(100, Math.round(RECORDS * ctx.scale));
    const pgSize = pgRecordsFor(records, ctx.scale);
    const pgRecords = pgSize.n;
    const reduced = pgRecords !== records;
    const fullKey = reduced ? `lmdbAt${records}` : undefined;
    const lmdbDurability: DurabilityMode = 'none';
    const sizes = [...new Set([pgRecords, records])];
    const data = dataset(records, QUERIES, WARMUP_QUERIES);
    const truthStarted = performance.now();
    const truth = exactTopK(data.items, data.queries, K, sizes);
    if (reduced) {
      ctx.log(
        `PGlite runs on ${pgRecords} of the ${records} records (${pgSize.source === 'default' ? `default ${PG_RECORDS} x scale, to keep the run short: PGlite inserts ~100-150/s through the engine here; ENGRAM_BENCH_PG_RECORDS=${records} for all` : 'ENGRAM_BENCH_PG_RECORDS'}); ` +
          `LMDB runs on ${pgRecords} (compared) and on ${records} (reported alongside)`,
      );
    }
    ctx.log(
      `exact top ${K} of ${QUERIES} held-out queries over ${sizes.join(' and ')} vectors: ` +
        `${Math.round(performance.now() - truthStarted)} ms`,
    );

    const label = `${pgRecords} x ${EMBEDDING_DIMENSION}-d`;
    const rows: Row[] = METRICS.map((m) => ({
      case: m.name(label),
      unit: m.unit,
      higherIsBetter: m.higherIsBetter,
      engineLabel: 'PGlite + pgvector (PostgresEngine)',
      baselineLabel: `LMDB (Registry, durability ${lmdbDurability})`,
      engine: [],
      baseline: [],
      ...(fullKey ? { details: { [fullKey]: [] } } : {}),
    }));
    const timings: Record<string, number[]> = {
      pgOpenMs: [],
      pgAnalyzeMs: [],
      pgBeforeAnalyzeP50Ms: [],
      pgInsertMs: [],
      lmdbOpenMs: [],
      lmdbAckMs: [],
      lmdbCaughtUpMs: [],
      lmdbPendingAtAck: [],
      lmdbSettleMs: [],
    };
    const versions = new Set<string>();
    const runBackend = async (backend: Backend, n: number): Promise<TaskResult> => {
      const dataRoot = backend === 'lmdb' ? await makeTempDir('pg-vs-lmdb') : undefined;
      try {
        const params: TaskParams = {
          backend,
          records: n,
          queries: QUERIES,
          warmupQueries: WARMUP_QUERIES,
          writers: WRITERS,
          durability: lmdbDurability,
          ...(dataRoot === undefined ? {} : { dataRoot }),
        };
        return await runChild<TaskResult>(
          'postgres-vs-lmdb:run',
          { ...params },
          { profileDir: ctx.profileDir, timeoutMs: 1_800_000 },
        );
      } finally {
        if (dataRoot) await removeTempDir(dataRoot);
      }
    };

    for (let rep = 0; rep < reps; rep++) {
      // Alternate which backend runs first, so neither always gets the cooler machine.
      const order: Backend[] = rep % 2 === 0 ? ['pglite', 'lmdb'] : ['lmdb', 'pglite'];
      let pgRun: TaskResult | undefined;
      const lmdbRuns = new Map<number, TaskResult>();
      for (const backend of order) {
        if (backend === 'pglite') pgRun = await runBackend('pglite', pgRecords);
        else for (const n of sizes) lmdbRuns.set(n, await runBackend('lmdb', n));
      }
      if (pgRun!.version) versions.add(pgRun!.version);
      const lmdbRun = lmdbRuns.get(pgRecords)!;
      const pgM = summarise(pgRun!, truth.get(pgRecords)!);
      const lmdbM = summarise(lmdbRun, truth.get(pgRecords)!);
      const fullM = reduced ? summarise(lmdbRuns.get(records)!, truth.get(records)!) : undefined;
      METRICS.forEach((m, i) => {
        rows[i]!.engine.push(pgM[m.key]);
        rows[i]!.baseline.push(lmdbM[m.key]);
        if (fullKey && fullM) rows[i]!.details![fullKey]!.push(fullM[m.key]);
      });
      timings.pgOpenMs!.push(pgRun!.openMs);
      timings.pgInsertMs!.push(pgRun!.ackMs);
      timings.pgAnalyzeMs!.push(pgRun!.beforeRecallMs);
      timings.pgBeforeAnalyzeP50Ms!.push(median(pgRun!.warmupMs));
      timings.lmdbOpenMs!.push(lmdbRun.openMs);
      timings.lmdbAckMs!.push(lmdbRun.ackMs);
      timings.lmdbCaughtUpMs!.push(lmdbRun.caughtUpMs);
      timings.lmdbPendingAtAck!.push(lmdbRun.pendingAtAck);
      timings.lmdbSettleMs!.push(lmdbRun.settledMs);
      ctx.log(`rep ${rep + 1}/${reps} (${order.join(' first, then ')}), ${label}:`);
      ctx.log(
        `  PGlite+pgvector: ${describe(pgM)} (before ANALYZE: p50 ${formatNumber(median(pgRun!.warmupMs))} ms ` +
          `over the ${WARMUP_QUERIES} warm-up queries; ANALYZE ${Math.round(pgRun!.beforeRecallMs)} ms)`,
      );
      ctx.log(
        `  LMDB:            ${describe(lmdbM)} (${lmdbRun.pendingAtAck} pending at last ack)`,
      );
      if (fullM) ctx.log(`  LMDB @ ${records}:   ${describe(fullM)}`);
    }
    rows[0]!.details = { ...rows[0]!.details, ...timings };

    ctx.log(
      `comparison, medians over ${reps} repetitions (engine = PGlite+pgvector, baseline = LMDB):`,
    );
    for (const line of comparisonTable(rows, fullKey, records)) ctx.log(`  ${line}`);
    return {
      parameters: {
        records,
        pgRecords,
        pgRecordsReduced: reduced,
        pgRecordsSource: pgSize.source,
        lmdbRecords: sizes,
        repetitions: reps,
        dimension: EMBEDDING_DIMENSION,
        seed: SEED,
        writers: WRITERS,
        k: K,
        mode: 'similarity',
        confidence: CONFIDENCE,
        queries: QUERIES,
        warmupQueries: WARMUP_QUERIES,
        hnsw: HNSW,
        lmdbOptions: { durability: lmdbDurability, consolidationIntervalMs: 0 },
        pgOptions: {
          storage: 'PGlite in memory (WebAssembly, one session) + @electric-sql/pglite-pgvector',
          exactScanMaxMemories: POSTGRES_DEFAULTS.exactScanMaxMemories,
          role: PG_ROLE,
          versions: [...versions],
        },
      },
      method: [
        `Same seeded data for both backends: clustered 384-d unit vectors (bench/data.ts, seed ${SEED}) with ~100-character contents, the first n inserted; ${QUERIES} held-out query vectors from the same generator, never inserted.`,
        `Each repetition runs one fresh child process per backend and size (order alternates): the LMDB Registry (durability ${lmdbDurability}) on a fresh temp data root, and the PostgresEngine on a fresh in-memory PGlite with pgvector (migrated, app role under row-level security). Both: HNSW M=${HNSW.m}, efConstruction=${HNSW.efConstruction}, efSearch=${HNSW.efSearch}.`,
        `Inserts: ${WRITERS} closed-loop writers call remember() with client vectors. Ack rate = records / time to the last acknowledgement. Indexed rate = records / time until stats() shows pendingApply 0 and indexedLsn = lastLsn (polled every ${POLL_MS} ms); before the recall phase LMDB is also left to finish any checkpoint (applying false; not counted). PostgreSQL writes the row and its HNSW entry in the committing transaction, so its two rates are one figure.`,
        `Memories are stored with confidence ${CONFIDENCE}, so score = cosine and recall settles on the first index fetch on both backends (with the default 0.7 both keep fetching 4x more rows, hundreds to ~1,300 per query on this data, until the confidence-weighed top k is provably exact). Recall: ${WARMUP_QUERIES} warm-up queries (PGlite: then ANALYZE, see notes, and the warm-up queries again), then the ${QUERIES} held-out queries one at a time, recall(vector, { k: ${K}, mode: 'similarity' }), each call timed; p50/p99 per repetition. recall@${K} = mean overlap with the exact top ${K}, computed in the benchmark by brute-force cosine over the inserted vectors.`,
        `engine = PGlite + pgvector, baseline = LMDB, both on ${pgRecords} records; ratio = PGlite / LMDB per repetition; figures are medians over repetitions.` +
          (fullKey ? ` ${fullKey} (details) is LMDB on all ${records} records.` : ''),
      ],
      rows,
      notes: [
        'PGlite is PostgreSQL compiled to WebAssembly: one session, in memory (no disk, no fsync), sharing the cores with the benchmark process. The figures show the PostgreSQL backend code path and pgvector under PGlite, not what a native PostgreSQL server on its own machine would do. LMDB runs with durability none, so neither side waits for the disk.',
        'PGlite runs PostgreSQL single-user, without autovacuum: after the inserts the planner still has the statistics of an empty partition and answers recall with a sort over every row (exact, so recall@10 = 1, and O(n)) instead of the HNSW index. The benchmark runs ANALYZE (pgAnalyzeMs), as autovacuum would on a server, before the measured queries; pgBeforeAnalyzeP50Ms is the median of the warm-up recalls before it.',
        ...(reduced
          ? [
              `PGlite ran on ${pgRecords} records, not the full ${records} (${pgSize.source === 'default' ? `default: ${PG_RECORDS} x scale, to keep the run short; set ENGRAM_BENCH_PG_RECORDS=${records} for the full size` : 'ENGRAM_BENCH_PG_RECORDS'}). The rows compare both backends on the same ${pgRecords} records; LMDB on all ${records} is in the ${fullKey} details.`,
            ]
          : []),
      ],
    };
  },
};
