/**
 * memory-footprint: RAM per hot memory and disk per warm memory.
 *
 * Setup, once: a child fills one space with N memories (client 384-d vectors, ~100-character
 * texts), waits until everything is applied and indexed, and closes it (index snapshot written,
 * log checkpointed). Disk: the allocated bytes (st_blocks) of the space directory, split by
 * part (warm = LMDB, index = HNSW snapshot, wal), divided by N, against the payload itself
 * (vector + content + id bytes).
 *
 * RAM, per repetition, two fresh processes (order alternating), each with a forced GC before
 * every reading: the engine opens the registry (RSS0), opens the space (index loaded), recalls
 * every memory by its own vector (k = 1) so all N are in the hot tier (checked), and reads RSS1;
 * RSS per hot memory = (RSS1 - RSS0) / N. Against: the HNSW estimate d*4 + 2*M*4 bytes, and raw
 * hnswlib-node's measured RSS per point for the same vectors (build an index of N points in a
 * fresh process after the vectors are generated).
 */
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import hnswlib from 'hnswlib-node';
import { ENGINE_DEFAULTS, Registry } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  makeTempDir,
  removeTempDir,
  runChild,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';
import { prefillTemplate } from '../prefill.ts';

const SEED = 97;
const SPACE = 'footprint';
const DIMENSION = 384;

/** Anonymous (heap, native allocations) and file-backed (mapped files, e.g. LMDB) resident bytes. */
function residentSplit(): { anon: number; file: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { anon: kib('RssAnon'), file: kib('RssFile') };
}

/** A full GC, then the process's resident set size. */
function settledRss(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().rss;
}

export interface EngineRamResult {
  rssBytes: number[];
  /** RssAnon and RssFile (Linux) before the space was opened and with every memory hot. */
  anonBytes: number[];
  fileBytes: number[];
  hotMemories: number;
  indexOnlyBytes: number;
}

export async function engineRamTask(p: {
  dataRoot: string;
  count: number;
}): Promise<EngineRamResult> {
  const vectors = new EmbeddingGenerator({ seed: SEED, dimension: DIMENSION })
    .take(p.count)
    .map((i) => i.vector);
  const registry = await Registry.open({ dataRoot: p.dataRoot, hotCapacity: p.count + 1 });
  const rss0 = settledRss();
  const split0 = residentSplit();
  const space = await registry.space(SPACE);
  const opened = await space.stats();
  if (opened.memories !== p.count) throw new Error(`space holds ${opened.memories} memories`);
  const rssOpen = settledRss();
  // HNSW is approximate: a memory's own vector finds it first almost always, not always.
  for (const vector of vectors) await space.recall(vector, { k: 1 });
  const { hotMemories } = await space.stats();
  const rss1 = settledRss();
  const split1 = residentSplit();
  return {
    rssBytes: [rss0, rssOpen, rss1],
    anonBytes: [split0.anon, split1.anon],
    fileBytes: [split0.file, split1.file],
    hotMemories,
    indexOnlyBytes: rssOpen - rss0,
  };
}

export async function rawRamTask(p: { count: number }): Promise<{ bytesPerPoint: number }> {
  const vectors = new EmbeddingGenerator({ seed: SEED, dimension: DIMENSION })
    .take(p.count)
    .map((i) => i.vector);
  const rss0 = settledRss();
  const index = new hnswlib.HierarchicalNSW('cosine', DIMENSION);
  index.initIndex({
    maxElements: p.count,
    m: ENGINE_DEFAULTS.hnswM,
    efConstruction: ENGINE_DEFAULTS.hnswEfConstruction,
    randomSeed: 100,
  });
  vectors.forEach((v, i) => index.addPoint(Array.from(v), i));
  const rss1 = settledRss();
  if (index.getCurrentCount() !== p.count) throw new Error('raw index lost points');
  return { bytesPerPoint: (rss1 - rss0) / p.count };
}

/** Allocated bytes (st_blocks * 512) under `path`. */
async function allocatedBytes(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.blocks * 512;
  let total = 0;
  for (const entry of await readdir(path)) total += await allocatedBytes(join(path, entry));
  return total;
}

async function diskByPart(spaceDir: string): Promise<Record<string, number>> {
  const parts: Record<string, number> = {};
  for (const entry of await readdir(spaceDir)) {
    parts[entry] = await allocatedBytes(join(spaceDir, entry));
  }
  return parts;
}

export const memoryFootprint: Benchmark = {
  name: 'memory-footprint',
  description: 'RSS per hot memory vs HNSW estimate and raw hnswlib; disk bytes per warm memory',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 3;
    const count = Math.round(10_000 * ctx.scale);
    const estimate = DIMENSION * 4 + 2 * ENGINE_DEFAULTS.hnswM * 4;
    const items = new EmbeddingGenerator({ seed: SEED, dimension: DIMENSION }).take(count);
    const payload =
      items.reduce(
        (s, i, n) => s + DIMENSION * 4 + Buffer.byteLength(i.content) + `m${n}`.length,
        0,
      ) / count;
    const template = await makeTempDir('footprint');
    const engineBytes: number[] = [];
    const rawBytes: number[] = [];
    const indexOnly: number[] = [];
    const hot: number[] = [];
    const anon: number[] = [];
    const file: number[] = [];
    let parts: Record<string, number>;
    try {
      await prefillTemplate({
        dataRoot: template,
        space: SPACE,
        count,
        seed: SEED,
        dimension: DIMENSION,
      });
      parts = await diskByPart(join(template, SPACE));
      for (let rep = 0; rep < reps; rep++) {
        const runEngine = () =>
          runChild<EngineRamResult>(
            'memory-footprint:engine',
            { dataRoot: template, count },
            { profileDir: ctx.profileDir, timeoutMs: 600_000 },
          );
        const runRaw = () =>
          runChild<{ bytesPerPoint: number }>(
            'memory-footprint:raw',
            { count },
            { profileDir: ctx.profileDir, timeoutMs: 600_000 },
          );
        let e: EngineRamResult;
        let raw: { bytesPerPoint: number };
        if (rep % 2 === 0) {
          e = await runEngine();
          raw = await runRaw();
        } else {
          raw = await runRaw();
          e = await runEngine();
        }
        if (e.hotMemories < 0.95 * count)
          throw new Error(`only ${e.hotMemories} of ${count} memories hot`);
        engineBytes.push((e.rssBytes[2]! - e.rssBytes[0]!) / count);
        indexOnly.push(e.indexOnlyBytes / count);
        rawBytes.push(raw.bytesPerPoint);
        hot.push(e.hotMemories);
        anon.push((e.anonBytes[1]! - e.anonBytes[0]!) / count);
        file.push((e.fileBytes[1]! - e.fileBytes[0]!) / count);
        ctx.log(
          `rep ${rep + 1}/${reps}: engine ${Math.round(engineBytes.at(-1)!)} B/hot memory (${Math.round(indexOnly.at(-1)!)} after open; anonymous ${Math.round(anon.at(-1)!)}, file-backed ${Math.round(file.at(-1)!)}), raw hnswlib ${Math.round(raw.bytesPerPoint)} B/point, estimate ${estimate} B`,
        );
      }
    } finally {
      await removeTempDir(template);
    }
    const diskTotal = Object.values(parts).reduce((s, b) => s + b, 0);
    const perPart = Object.fromEntries(
      Object.entries(parts).map(([k, v]) => [`${k}BytesPerMemory`, [v / count]]),
    );
    ctx.log(
      `disk: ${Math.round(diskTotal / count)} B/memory (${Object.entries(parts)
        .map(([k, v]) => `${k} ${Math.round(v / count)}`)
        .join(', ')}), payload ${Math.round(payload)} B`,
    );
    return {
      parameters: {
        memories: count,
        dimension: DIMENSION,
        repetitions: reps,
        hnswM: ENGINE_DEFAULTS.hnswM,
        seed: SEED,
        hnswEstimateBytes: estimate,
      },
      method: [
        `Template: one space of ${count} memories (client 384-d vectors, ~100-character texts) filled, applied, indexed and closed by a child process.`,
        'RAM: fresh processes with a forced GC before each RSS reading. Engine: RSS after opening the registry, then after opening the space and recalling every memory by its own vector (k=1) so all are in the hot tier; the difference / N. Raw hnswlib: RSS before and after building an index of the same N vectors (M=16, efC=200).',
        `Baseline for RAM: the HNSW estimate d*4 + 2*M*4 = ${estimate} B, and raw hnswlib measured. Disk: allocated bytes (st_blocks) of the closed space directory by part / N, against the payload (vector + content + id bytes).`,
      ],
      rows: [
        {
          case: `RSS per hot memory, ${count} x ${DIMENSION}`,
          unit: 'bytes',
          higherIsBetter: false,
          engineLabel: 'engine, all memories hot',
          baselineLabel: 'HNSW estimate d*4 + 2*M*4',
          engine: engineBytes,
          baseline: engineBytes.map(() => estimate),
          details: {
            indexOnlyBytesPerMemory: indexOnly,
            anonBytesPerMemory: anon,
            fileBackedBytesPerMemory: file,
            hotMemories: hot,
          },
        },
        {
          case: `RSS per hot memory vs raw hnswlib, ${count} x ${DIMENSION}`,
          unit: 'bytes',
          higherIsBetter: false,
          engineLabel: 'engine, all memories hot',
          baselineLabel: 'raw hnswlib RSS per point',
          engine: engineBytes,
          baseline: rawBytes,
        },
        {
          case: `disk per warm memory, ${count} x ${DIMENSION}`,
          unit: 'bytes',
          higherIsBetter: false,
          engineLabel: 'space directory (LMDB + index snapshot + WAL), allocated',
          baselineLabel: 'payload: vector + content + id',
          engine: [diskTotal / count],
          baseline: [payload],
          details: perPart,
        },
      ],
    };
  },
};
