/**
 * replay: WAL records replayed per second when a space opens after a crash.
 *
 * Crash, honestly: a child process opens a space with durability 'none', queues N remember()
 * calls at once (groupCommitRecordsMax 65536, so the log takes them in a couple of big writes;
 * the bytes on disk are the same as with any group size), and as soon as the last one is acked
 * (the log write() returned, so the bytes are in the page cache) it SIGKILLs itself. The
 * background applier never had an event-loop turn to commit more than the first tiny batch, so
 * the warm tier (LMDB) and the index hold ~nothing and the whole log must be replayed. The
 * crashed data root is kept as a template; each repetition copies it and opens the copy.
 *
 * Timed: Registry.open + the first call on the space (get of the last id written, which must
 * return it), in a fresh process whose engine modules are already loaded. That covers scanning
 * and checksumming every segment, decoding every record above the checkpoint and loading it into
 * the memtable. The applier then starts in the background; it is not part of the figure.
 *
 * Baseline: sequential read + crc32 of the same segment files (fs.readFile + zlib.crc32), in the
 * parent process. Both read from the page cache (the copy was just written), so this compares
 * CPU paths, not the disk.
 */
import { cp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Registry } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  makeTempDir,
  removeTempDir,
  runChild,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';

const SPACE = 'replay';
const SEED = 11;

interface PrepareResult {
  records: number;
  lastLsn: number;
  appliedLsnAtCrash: number;
  pendingApplyAtCrash: number;
  walBytes: number;
  walSegments: number;
  lastId: string;
  writeMs: number;
}

export async function replayPrepareTask(p: {
  dataRoot: string;
  records: number;
}): Promise<PrepareResult> {
  const registry = await Registry.open({
    dataRoot: p.dataRoot,
    durability: 'none',
    groupCommitRecordsMax: 65_536,
    maxPendingWrites: p.records + 1024,
  });
  await registry.createSpace(SPACE);
  const space = await registry.space(SPACE);
  await space.stats(); // open it now, not under the first write
  const items = new EmbeddingGenerator({ seed: SEED }).take(p.records);
  const started = performance.now();
  const acks = items.map((item, i) =>
    space.remember({ id: `m${i}`, content: item.content, vector: item.vector }),
  );
  await Promise.all(acks);
  const writeMs = performance.now() - started;
  // Still in the same macrotask as the last ack: the applier's LMDB transaction cannot have run.
  const stats = await space.stats();
  return {
    records: p.records,
    lastLsn: stats.lastLsn,
    appliedLsnAtCrash: stats.appliedLsn,
    pendingApplyAtCrash: stats.pendingApply,
    walBytes: stats.walBytes,
    walSegments: stats.walSegments,
    lastId: `m${p.records - 1}`,
    writeMs,
  };
}

interface OpenResult {
  openMs: number;
  firstCallMs: number;
  totalMs: number;
  found: boolean;
  lastLsn: number;
  appliedLsn: number;
  pendingApply: number;
}

export async function replayOpenTask(p: { dataRoot: string; lastId: string }): Promise<OpenResult> {
  const t0 = performance.now();
  const registry = await Registry.open({ dataRoot: p.dataRoot });
  const t1 = performance.now();
  const space = await registry.space(SPACE);
  const memory = await space.get(p.lastId);
  const t2 = performance.now();
  const stats = await space.stats(); // untimed: O(memtable) with one LMDB read per entry
  return {
    openMs: t1 - t0,
    firstCallMs: t2 - t1,
    totalMs: t2 - t0,
    found: memory !== undefined,
    lastLsn: stats.lastLsn,
    appliedLsn: stats.appliedLsn,
    pendingApply: stats.pendingApply,
  };
}

/** Reads every segment in order and checksums it: what a replay cannot do with less work. */
async function rawReadCrc(walDir: string): Promise<{ ms: number; bytes: number; crc: number }> {
  const names = (await readdir(walDir)).filter((n) => n.endsWith('.wal')).sort();
  const started = performance.now();
  let bytes = 0;
  let crc = 0;
  for (const name of names) {
    const buf = await readFile(join(walDir, name));
    crc = crc32(buf, crc);
    bytes += buf.length;
  }
  return { ms: performance.now() - started, bytes, crc };
}

export const replay: Benchmark = {
  name: 'replay',
  description: 'WAL replay records/s at open after a crash vs raw read+crc32 of the segments',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 5;
    const records = Math.round(50_000 * ctx.scale);
    const template = await makeTempDir('replay-template');
    const engine: number[] = [];
    const baseline: number[] = [];
    const details: Record<string, number[]> = {
      openMs: [],
      firstCallMs: [],
      totalMs: [],
      rawMs: [],
      rawMBps: [],
      appliedLsnAtOpen: [],
    };
    let prepared: PrepareResult;
    try {
      prepared = await runChild<PrepareResult>(
        'replay:prepare',
        { dataRoot: template, records },
        { profileDir: ctx.profileDir, timeoutMs: 600_000 },
      );
      ctx.log(
        `prepared ${prepared.lastLsn} records (${(prepared.walBytes / 2 ** 20).toFixed(1)} MiB in ` +
          `${prepared.walSegments} segments) in ${Math.round(prepared.writeMs)} ms; at the crash ` +
          `appliedLsn=${prepared.appliedLsnAtCrash}, pendingApply=${prepared.pendingApplyAtCrash}`,
      );
      for (let rep = 0; rep < reps; rep++) {
        const copy = await makeTempDir('replay-copy');
        try {
          await cp(template, copy, { recursive: true });
          const walDir = join(copy, SPACE, 'wal');
          const runEngine = () =>
            runChild<OpenResult>(
              'replay:open',
              { dataRoot: copy, lastId: prepared.lastId },
              { profileDir: ctx.profileDir, timeoutMs: 600_000 },
            );
          // Alternate the order so neither side always runs first after the copy.
          let raw: { ms: number; bytes: number; crc: number };
          let opened: OpenResult;
          if (rep % 2 === 0) {
            raw = await rawReadCrc(walDir);
            opened = await runEngine();
          } else {
            opened = await runEngine();
            raw = await rawReadCrc(walDir);
          }
          if (!opened.found || opened.lastLsn !== prepared.lastLsn) {
            throw new Error(
              `replay lost records: found=${opened.found}, lastLsn ${opened.lastLsn} vs ${prepared.lastLsn}`,
            );
          }
          engine.push(prepared.lastLsn / (opened.totalMs / 1000));
          baseline.push(prepared.lastLsn / (raw.ms / 1000));
          details.openMs!.push(opened.openMs);
          details.firstCallMs!.push(opened.firstCallMs);
          details.totalMs!.push(opened.totalMs);
          details.rawMs!.push(raw.ms);
          details.rawMBps!.push(raw.bytes / 2 ** 20 / (raw.ms / 1000));
          details.appliedLsnAtOpen!.push(opened.appliedLsn);
          ctx.log(
            `rep ${rep + 1}/${reps}: recovery ${Math.round(opened.totalMs)} ms ` +
              `(open ${Math.round(opened.openMs)}, first call ${Math.round(opened.firstCallMs)}), ` +
              `pendingApply after open ${opened.pendingApply}; raw read+crc ${raw.ms.toFixed(1)} ms`,
          );
        } finally {
          await removeTempDir(copy);
        }
      }
    } finally {
      await removeTempDir(template);
    }
    return {
      parameters: {
        records,
        recordsInLog: prepared.lastLsn,
        walBytes: prepared.walBytes,
        walSegments: prepared.walSegments,
        appliedLsnAtCrash: prepared.appliedLsnAtCrash,
        repetitions: reps,
        dimension: 384,
        seed: SEED,
        prepareOptions: { durability: 'none', groupCommitRecordsMax: 65_536 },
      },
      method: [
        "Prepare: a child writes N memories (durability 'none', one big group) and SIGKILLs itself right after the last ack, before the applier commits anything: the whole log is unapplied.",
        'Each repetition copies that crashed data root and, in a fresh process, times Registry.open + the first call (get of the last id). Records/s = records in the log / that time.',
        'Baseline: readFile + crc32 of the same segment files (page cache warm for both).',
      ],
      rows: [
        {
          case: `${prepared.lastLsn} records`,
          unit: 'records/s',
          higherIsBetter: true,
          engineLabel: 'Registry.open + first call',
          baselineLabel: 'raw read+crc32',
          engine,
          baseline,
          details,
        },
      ],
    };
  },
};
