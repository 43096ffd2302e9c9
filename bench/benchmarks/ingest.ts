/**
 * ingest: sustained ingest with client vectors, durability 'fsync' (the default): N remember()
 * calls (50,000 at scale 1) from 64 closed-loop writers into one space, while the background
 * applier moves them into LMDB and the HNSW index. Every 500th write, right after its ack, the
 * writer checks read-your-writes: get(id) must return the memory and recall(its vector, k = 10)
 * must include it, whether or not the index has caught up. Memories/s = memories acknowledged /
 * time to the last ack; writers stop early at a time cap (60 s at scale 1) so a slow engine
 * cannot stretch the run. Target: >= 10,000 memories/s with every read-your-writes check passing.
 *
 * Baseline: the raw pwrite + fdatasync loop of durable-writes (fresh process, same temp
 * filesystem) with the engine's measured record size and records per fdatasync.
 */
import { Registry, nodeFileSystem } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  inTempDir,
  quantile,
  runChild,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';
import { countingFileSystem, type RawWritesResult } from './durable-writes.ts';

const SEED = 101;
const SPACE = 'ingest';
const WRITERS = 64;
const CHECK_EVERY = 500;

export interface IngestResult {
  memoriesPerSec: number;
  /** Memories acknowledged: all of them, or fewer when the time cap ended the run. */
  written: number;
  seconds: number;
  avgGroup: number;
  recordBytes: number;
  checks: number;
  failures: number;
  checkP50Ms: number;
  pendingApplyAtEnd: number;
}

export async function ingestTask(p: {
  dataRoot: string;
  total: number;
  maxMs: number;
}): Promise<IngestResult> {
  const counting = countingFileSystem(nodeFileSystem);
  const registry = await Registry.open(
    { dataRoot: p.dataRoot, durability: 'fsync' },
    { fs: counting.fs },
  );
  await registry.createSpace(SPACE, { dimension: 384 });
  const space = await registry.space(SPACE);
  const items = new EmbeddingGenerator({ seed: SEED }).take(p.total);
  let next = 0;
  let checks = 0;
  let failures = 0;
  const checkMs: number[] = [];
  const readYourWrite = async (i: number): Promise<void> => {
    const id = `m${i}`;
    const t = performance.now();
    const got = await space.get(id);
    const hits = await space.recall(items[i]!.vector, { k: 10 });
    checkMs.push(performance.now() - t);
    checks += 1;
    if (got?.id !== id || !hits.some((hit) => hit.memory.id === id)) failures += 1;
  };
  let written = 0;
  let deadline = Infinity;
  const writer = async (): Promise<void> => {
    for (let i = next++; i < p.total && performance.now() < deadline; i = next++) {
      const item = items[i]!;
      await space.remember({ id: `m${i}`, content: item.content, vector: item.vector });
      written += 1;
      if (i % CHECK_EVERY === 0) await readYourWrite(i);
    }
  };
  const syncs0 = counting.walSyncs();
  const started = performance.now();
  deadline = started + p.maxMs;
  await Promise.all(Array.from({ length: WRITERS }, writer));
  const seconds = (performance.now() - started) / 1000;
  const syncs = counting.walSyncs() - syncs0;
  const stats = await space.stats();
  return {
    memoriesPerSec: written / seconds,
    written,
    seconds,
    avgGroup: written / Math.max(1, syncs),
    recordBytes: stats.walBytes / stats.lastLsn,
    checks,
    failures,
    checkP50Ms: quantile(checkMs, 0.5),
    pendingApplyAtEnd: stats.pendingApply,
  };
}

export const ingest: Benchmark = {
  name: 'ingest',
  description: 'sustained remember/s with client vectors (fsync, 64 writers) + read-your-writes',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    // One repetition by default: a single run already averages over 50,000 writes.
    const reps = ctx.reps ?? 1;
    const total = Math.round(50_000 * ctx.scale);
    // Bounds the run when the engine is far below target (50,000 at 10,000/s take 5 s).
    const maxMs = Math.round(60_000 * ctx.scale);
    const engine: number[] = [];
    const baseline: number[] = [];
    const details: Record<string, number[]> = {
      avgGroup: [],
      rawGroup: [],
      written: [],
      checks: [],
      readYourWritesFailures: [],
      checkP50Ms: [],
      pendingApplyAtEnd: [],
    };
    for (let rep = 0; rep < reps; rep++) {
      const r = await inTempDir('ingest', (dataRoot) =>
        runChild<IngestResult>(
          'ingest:run',
          { dataRoot, total, maxMs },
          { profileDir: ctx.profileDir, timeoutMs: 1_800_000 },
        ),
      );
      const groupRecords = Math.max(1, Math.round(r.avgGroup));
      const recordBytes = Math.round(r.recordBytes);
      const raw = await inTempDir('ingest-raw', (dir) =>
        runChild<RawWritesResult>(
          'durable-writes:raw',
          { dir, recordBytes, groupRecords, warmupMs: 500, durationMs: 2000 },
          { profileDir: ctx.profileDir, timeoutMs: 120_000 },
        ),
      );
      engine.push(r.memoriesPerSec);
      baseline.push(raw.writesPerSec);
      details.avgGroup!.push(r.avgGroup);
      details.rawGroup!.push(groupRecords);
      details.written!.push(r.written);
      details.checks!.push(r.checks);
      details.readYourWritesFailures!.push(r.failures);
      details.checkP50Ms!.push(r.checkP50Ms);
      details.pendingApplyAtEnd!.push(r.pendingApplyAtEnd);
      ctx.log(
        `rep ${rep + 1}/${reps}: ${Math.round(r.memoriesPerSec)} memories/s, ${r.written} in ${r.seconds.toFixed(1)} s ` +
          `(group avg ${r.avgGroup.toFixed(1)}, ${r.checks} read-your-writes checks, ${r.failures} failed, ` +
          `check p50 ${r.checkP50Ms.toFixed(2)} ms, backlog at end ${r.pendingApplyAtEnd}); raw ${Math.round(raw.writesPerSec)}/s`,
      );
    }
    const failed = details.readYourWritesFailures!.reduce((s, f) => s + f, 0);
    return {
      parameters: {
        memories: total,
        maxMs,
        writers: WRITERS,
        checkEvery: CHECK_EVERY,
        dimension: 384,
        repetitions: reps,
        seed: SEED,
        engineOptions: { durability: 'fsync' },
      },
      method: [
        `A fresh process and data root per repetition: ${WRITERS} closed-loop writers store ${total} memories with client 384-d vectors (durability fsync); every ${CHECK_EVERY}th write is followed by get(id) and recall(vector, k=10), which must return it (read-your-writes while the index catches up).`,
        `Memories/s = memories acknowledged / time from the first call to the last ack (the applier keeps running after: its backlog at the end is reported). Writers stop early after ${maxMs} ms, so a slow engine cannot stretch the run; the count written is reported.`,
        "Baseline: raw pwrite+fdatasync loop in a fresh process with the engine's record size and measured records per fdatasync. Target: engine >= 10,000 memories/s.",
      ],
      rows: [
        {
          case: `${total} memories, ${WRITERS} writers, fsync`,
          unit: 'memories/s',
          higherIsBetter: true,
          engineLabel: 'engine remember, client vectors',
          baselineLabel: 'raw pwrite+fdatasync, engine group',
          engine,
          baseline,
          target: { on: 'engine', op: '>=', value: 10_000 },
          details,
        },
      ],
      notes: [
        failed === 0
          ? 'Every read-your-writes check passed.'
          : `${failed} read-your-writes checks FAILED: an acknowledged memory was not returned by get or recall.`,
      ],
    };
  },
};
