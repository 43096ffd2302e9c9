/**
 * index-catch-up: how fast the background applier moves acknowledged writes into the warm tier
 * (LMDB) and the HNSW index.
 *
 * A child process queues N remember() calls at once with durability 'none' and a big group size
 * (so the log is not what is measured and the whole batch is acked at nearly the same moment),
 * then polls stats() until pendingApply === 0, indexedLsn === lastLsn and indexBacklog === 0. Inserts/s = records
 * still pending at the last ack / time from the last ack to the poll that saw the applier done.
 * stats() walks the memtable with one LMDB read per entry, so polling costs the applier time:
 * the poll interval is coarse and the time spent inside stats() is reported.
 *
 * Baseline, same process and vectors: a fresh hnswlib-node HierarchicalNSW (cosine, M=16,
 * efConstruction=200, seed 100, capacity preallocated) and a plain addPoint loop, the vectors
 * converted to number[] beforehand. Order alternates between repetitions.
 */
import hnswlib from 'hnswlib-node';
import { ENGINE_DEFAULTS, Registry } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  makeTempDir,
  removeTempDir,
  runChild,
  sleep,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';

const SEED = 23;
const SPACE = 'catchup';

interface CatchUpResult {
  records: number;
  pendingAtAck: number;
  catchUpMs: number;
  engineInsertsPerSec: number;
  rawMs: number;
  rawInsertsPerSec: number;
  polls: number;
  statsMs: number;
  writeMs: number;
}

function rawHnsw(vectors: number[][]): number {
  const index = new hnswlib.HierarchicalNSW('cosine', vectors[0]!.length);
  index.initIndex({
    maxElements: vectors.length,
    m: ENGINE_DEFAULTS.hnswM,
    efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
    randomSeed: 100,
  });
  const started = performance.now();
  for (let i = 0; i < vectors.length; i++) index.addPoint(vectors[i]!, i);
  return performance.now() - started;
}

export async function catchUpTask(p: {
  dataRoot: string;
  records: number;
  pollMs: number;
  rawFirst: boolean;
}): Promise<CatchUpResult> {
  const items = new EmbeddingGenerator({ seed: SEED }).take(p.records);
  const plain = items.map((item) => Array.from(item.vector));
  let rawMs = p.rawFirst ? rawHnsw(plain) : 0;

  const registry = await Registry.open({
    dataRoot: p.dataRoot,
    durability: 'none',
    groupCommitRecordsMax: 65_536,
    maxPendingWrites: p.records + 1024,
  });
  await registry.createSpace(SPACE);
  const space = await registry.space(SPACE);
  await space.stats(); // open it now
  const started = performance.now();
  await Promise.all(
    items.map((item, i) =>
      space.remember({ id: `m${i}`, content: item.content, vector: item.vector }),
    ),
  );
  const acked = performance.now();
  let statsMs = 0;
  let polls = 0;
  const poll = async () => {
    const t = performance.now();
    const stats = await space.stats();
    statsMs += performance.now() - t;
    polls += 1;
    return stats;
  };
  let stats = await poll();
  const pendingAtAck = stats.pendingApply;
  while (stats.pendingApply > 0 || stats.indexedLsn !== stats.lastLsn || stats.indexBacklog > 0) {
    await sleep(p.pollMs);
    stats = await poll();
  }
  const done = performance.now();
  if (!p.rawFirst) rawMs = rawHnsw(plain);
  const catchUpMs = done - acked;
  return {
    records: p.records,
    pendingAtAck,
    catchUpMs,
    engineInsertsPerSec: pendingAtAck / (catchUpMs / 1000),
    rawMs,
    rawInsertsPerSec: p.records / (rawMs / 1000),
    polls,
    statsMs,
    writeMs: acked - started,
  };
}

export const indexCatchUp: Benchmark = {
  name: 'index-catch-up',
  description: 'background applier inserts/s into LMDB+HNSW vs raw hnswlib addPoint',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 5;
    const records = Math.round(10_000 * ctx.scale);
    const pollMs = 100;
    const engine: number[] = [];
    const baseline: number[] = [];
    const details: Record<string, number[]> = {
      pendingAtAck: [],
      catchUpMs: [],
      rawMs: [],
      pollOverheadPct: [],
    };
    for (let rep = 0; rep < reps; rep++) {
      const dataRoot = await makeTempDir('catch-up');
      try {
        const r = await runChild<CatchUpResult>(
          'index-catch-up:run',
          { dataRoot, records, pollMs, rawFirst: rep % 2 === 1 },
          { profileDir: ctx.profileDir, timeoutMs: 1_800_000 },
        );
        engine.push(r.engineInsertsPerSec);
        baseline.push(r.rawInsertsPerSec);
        details.pendingAtAck!.push(r.pendingAtAck);
        details.catchUpMs!.push(r.catchUpMs);
        details.rawMs!.push(r.rawMs);
        details.pollOverheadPct!.push((100 * r.statsMs) / r.catchUpMs);
        ctx.log(
          `rep ${rep + 1}/${reps}: applier ${Math.round(r.engineInsertsPerSec)}/s ` +
            `(${r.pendingAtAck} pending at ack, caught up in ${Math.round(r.catchUpMs)} ms, ` +
            `${r.polls} polls ${Math.round(r.statsMs)} ms), raw addPoint ${Math.round(r.rawInsertsPerSec)}/s`,
        );
      } finally {
        await removeTempDir(dataRoot);
      }
    }
    return {
      parameters: {
        records,
        repetitions: reps,
        pollMs,
        dimension: 384,
        seed: SEED,
        hnsw: {
          m: ENGINE_DEFAULTS.hnswM,
          efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
        },
        engineOptions: {
          durability: 'none',
          groupCommitRecordsMax: 65_536,
          applyBatchRecords: ENGINE_DEFAULTS.applyBatchRecords,
          indexSnapshotEveryRecords: ENGINE_DEFAULTS.indexSnapshotEveryRecords,
        },
      },
      method: [
        "A fresh process queues N remember() calls at once (durability 'none'), then polls stats() every 100 ms until pendingApply is 0, indexedLsn equals lastLsn and the graph has applied every staged write (indexBacklog 0).",
        'Inserts/s = records pending at the last ack / time from the last ack to the poll that saw the applier done (includes LMDB commits and any checkpoint).',
        'Baseline, same process and vectors: hnswlib-node addPoint loop, M=16, efConstruction=200, capacity preallocated, vectors already number[].',
      ],
      rows: [
        {
          case: `${records} records`,
          unit: 'inserts/s',
          higherIsBetter: true,
          engineLabel: 'applier LMDB+HNSW',
          baselineLabel: 'raw hnswlib addPoint',
          engine,
          baseline,
          details,
        },
      ],
    };
  },
};
