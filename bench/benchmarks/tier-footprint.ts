/**
 * tier-footprint: disk bytes per cold memory against disk bytes per warm memory.
 *
 * Per repetition, in process: two spaces get the same N memories (384-d unit vectors, the
 * generator's texts). One keeps them warm (default capacities); the other has warm_capacity 1,
 * so the demotion job moves all of them to the cold tier. Both are closed (index snapshot,
 * checkpoint), then the allocated bytes (st_blocks) of the parts are divided by N: warm = LMDB
 * `warm/` + HNSW `index/`; cold = the `cold/` segments plus what the cold space still keeps in
 * LMDB (catalog, labels). Also reported: the cosine between each original vector and the
 * dequantized one a cold memory gives back (the int8 quantization's loss).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry, type SpaceHandle } from '../../engine/index.ts';
import { EmbeddingGenerator, dot } from '../data.ts';
import {
  makeTempDir,
  removeTempDir,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';

const BASE_COUNT = 2000;

/** Allocated bytes of every file below `dir` (sparse files count what they really use). */
async function blocksUnder(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += (await stat(join(entry.parentPath, entry.name))).blocks * 512;
  }
  return bytes;
}

async function waitUntil(space: SpaceHandle, done: (cold: number) => boolean): Promise<void> {
  for (let i = 0; i < 60_000; i++) {
    const stats = await space.stats();
    if (stats.pendingApply === 0 && done(stats.coldMemories ?? 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the space did not settle');
}

interface Footprint {
  warm: number;
  cold: number;
  coldSegments: number;
  cosineMin: number;
  cosineMean: number;
}

async function oneRepetition(count: number, seed: number): Promise<Footprint> {
  const items = new EmbeddingGenerator({ seed }).take(count);
  const dir = await makeTempDir('tier-footprint');
  try {
    const perMemory = { warm: 0, cold: 0, coldSegments: 0 };
    let cosineMin = 1;
    let cosineSum = 0;
    for (const tier of ['warm', 'cold'] as const) {
      const dataRoot = join(dir, tier);
      const registry = await Registry.open({
        dataRoot,
        ...(tier === 'cold' ? { warmCapacity: 1 } : {}),
      });
      await registry.createSpace('footprint', { dimension: items[0]!.vector.length });
      const space = await registry.space('footprint');
      for (const [i, item] of items.entries())
        await space.remember({ id: `m${i}`, content: item.content, vector: item.vector });
      await waitUntil(space, (cold) => tier === 'warm' || cold >= count - 1);
      if (tier === 'cold') {
        for (const [i, item] of items.entries()) {
          const back = (await space.getVector(`m${i}`))!;
          const cosine = dot(back, item.vector) / Math.sqrt(dot(back, back));
          cosineMin = Math.min(cosineMin, cosine);
          cosineSum += cosine;
        }
      }
      await registry.close();
      const spaceDir = join(dataRoot, 'footprint');
      const lmdb = await blocksUnder(join(spaceDir, 'warm'));
      if (tier === 'warm') {
        perMemory.warm = (lmdb + (await blocksUnder(join(spaceDir, 'index')))) / count;
      } else {
        perMemory.coldSegments = (await blocksUnder(join(spaceDir, 'cold'))) / count;
        perMemory.cold = perMemory.coldSegments + lmdb / count;
      }
    }
    return { ...perMemory, cosineMin, cosineMean: cosineSum / count };
  } finally {
    await removeTempDir(dir);
  }
}

export const tierFootprint: Benchmark = {
  name: 'tier-footprint',
  description: 'disk bytes per cold memory (compressed content, int8 vector) vs per warm memory',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const count = Math.round(BASE_COUNT * ctx.scale);
    const reps = ctx.reps ?? 3;
    const warm: number[] = [];
    const cold: number[] = [];
    const details: Record<string, number[]> = { coldSegments: [], cosineMin: [], cosineMean: [] };
    for (let rep = 0; rep < reps; rep++) {
      const result = await oneRepetition(count, 31 + rep);
      ctx.log(`rep ${rep + 1}/${reps}: ${JSON.stringify(result)}`);
      warm.push(result.warm);
      cold.push(result.cold);
      details.coldSegments!.push(result.coldSegments);
      details.cosineMin!.push(result.cosineMin);
      details.cosineMean!.push(result.cosineMean);
    }
    return {
      parameters: { count, dimension: 384, reps },
      method: [
        `${count} memories stored twice: kept warm, and demoted to cold (warm_capacity 1); both spaces closed.`,
        'Allocated bytes per memory: warm = LMDB + HNSW snapshot; cold = cold segments + the LMDB the cold space keeps (catalog, labels).',
        'Details: segment bytes alone, and the cosine of each dequantized vector to its original.',
      ],
      rows: [
        {
          case: 'disk per memory',
          unit: 'bytes',
          higherIsBetter: false,
          engineLabel: 'cold',
          baselineLabel: 'warm',
          engine: cold,
          baseline: warm,
          details,
        },
      ],
    };
  },
};
