/**
 * startup-10k: time to ready (Registry.open) on a data root holding 10,000 spaces.
 *
 * Setup, once: the engine creates one real space (createSpace, then close); its directory tree
 * is then copied 10,000 times (space.json rewritten with each copy's id), which is what 10,000
 * createSpace calls would leave, without 40,000 fsyncs.
 *
 * Timed, in this process: Registry.open (discovery: one readdir of the root, one stat per
 * entry; nothing opened or replayed) and then close. Baseline: a bare readdir of the root plus a
 * stat of each of the 10,000 directories (Promise.all, like the engine). Order alternates.
 * Everything is in the dentry/inode cache after the setup: this is the warm-cache figure.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from '../../engine/index.ts';
import {
  makeTempDir,
  removeTempDir,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
} from '../lib.ts';

/** Copies `from` to `to` recursively; space.json gets `id` set to `spaceId`. */
export async function copySpace(from: string, to: string, spaceId: string): Promise<void> {
  await mkdir(to);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      await copySpace(source, target, spaceId);
    } else if (entry.name === 'space.json') {
      const meta = JSON.parse(await readFile(source, 'utf8')) as Record<string, unknown>;
      await writeFile(target, `${JSON.stringify({ ...meta, id: spaceId }, null, 2)}\n`);
    } else {
      await writeFile(target, await readFile(source));
    }
  }
}

async function bareScan(root: string): Promise<number> {
  const names = await readdir(root);
  const stats = await Promise.all(names.map((name) => stat(join(root, name))));
  return stats.filter((s) => s.isDirectory()).length;
}

export const startup10k: Benchmark = {
  name: 'startup-10k',
  description: 'Registry.open with 10,000 space directories vs bare readdir+stat',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 11;
    const spaces = 10_000;
    const root = await makeTempDir('startup');
    const templateRoot = await makeTempDir('startup-template');
    const engine: number[] = [];
    const baseline: number[] = [];
    const details: Record<string, number[]> = { discoveryMs: [] };
    try {
      const template = await Registry.open({ dataRoot: templateRoot });
      await template.createSpace('template');
      await template.close();
      const setupStarted = performance.now();
      const ids = Array.from({ length: spaces }, (_, i) => `space-${String(i).padStart(5, '0')}`);
      for (let i = 0; i < ids.length; i += 64) {
        await Promise.all(
          ids
            .slice(i, i + 64)
            .map((id) => copySpace(join(templateRoot, 'template'), join(root, id), id)),
        );
      }
      ctx.log(
        `created ${spaces} space directories in ${Math.round(performance.now() - setupStarted)} ms`,
      );
      // One untimed open of each kind first, so neither pays for first-touch JIT alone.
      await (await Registry.open({ dataRoot: root })).close();
      await bareScan(root);
      for (let rep = 0; rep < reps; rep++) {
        const timeEngine = async () => {
          const t0 = performance.now();
          const registry = await Registry.open({ dataRoot: root });
          const ms = performance.now() - t0;
          const { spaces: found, skipped, ms: discoveryMs } = registry.discovery;
          await registry.close();
          if (found !== spaces || skipped.length > 0) {
            throw new Error(`discovered ${found} spaces, skipped ${skipped.length}`);
          }
          details.discoveryMs!.push(discoveryMs);
          return ms;
        };
        const timeBaseline = async () => {
          const t0 = performance.now();
          const dirs = await bareScan(root);
          const ms = performance.now() - t0;
          if (dirs !== spaces) throw new Error(`bare scan saw ${dirs} directories`);
          return ms;
        };
        let e: number;
        let b: number;
        if (rep % 2 === 0) {
          e = await timeEngine();
          b = await timeBaseline();
        } else {
          b = await timeBaseline();
          e = await timeEngine();
        }
        engine.push(e);
        baseline.push(b);
        ctx.log(
          `rep ${rep + 1}/${reps}: Registry.open ${e.toFixed(1)} ms, readdir+stat ${b.toFixed(1)} ms`,
        );
      }
    } finally {
      await removeTempDir(templateRoot);
      await removeTempDir(root);
    }
    return {
      parameters: { spaces, repetitions: reps, spaceTemplate: 'createSpace() output, copied' },
      method: [
        'Setup: one space made by createSpace, its directory copied 10,000 times (ids patched).',
        'Timed in-process: Registry.open (then close, untimed), alternating with a bare readdir + Promise.all(stat) of the 10,000 directories; warm dentry cache for both.',
        'Ratio = engine time / baseline time (lower is better); target: median time to ready < 2 s.',
      ],
      rows: [
        {
          case: `${spaces} spaces`,
          unit: 'ms',
          higherIsBetter: false,
          engineLabel: 'Registry.open',
          baselineLabel: 'readdir + stat',
          engine,
          baseline,
          target: { on: 'engine', op: '<', value: 2000 },
          details,
        },
      ],
    };
  },
};
