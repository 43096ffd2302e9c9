/**
 * Model-based property test of tier moves: random remember / update / forget / recall (which
 * promotes cold hits) / settle / restart sequences run against a space with a warm capacity of
 * 2, so demotions to the cold tier and promotions back happen all the time, and against a plain
 * Map. After every step: every live memory is listed exactly once, reads back with its content,
 * sits in exactly one of the warm and cold tiers, and a deleted one is never found.
 *
 * Runs: ENGRAM_PROPERTY_RUNS (default 60) within ENGRAM_PROPERTY_BUDGET_MS (default 30 s).
 * Replay: ENGRAM_PROPERTY_SEED (and ENGRAM_PROPERTY_PATH from a failure report).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Registry, type SpaceHandle } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SPACE = 'tiers';
const ID_POOL = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;
const OPTIONS = { warmCapacity: 2, coldCapacity: 1000, accessFlushMs: 20 };

const envInt = (name: string): number | undefined =>
  process.env[name] ? Number(process.env[name]) : undefined;
const RUNS = envInt('ENGRAM_PROPERTY_RUNS') ?? 60;
const BUDGET_MS = envInt('ENGRAM_PROPERTY_BUDGET_MS') ?? 30_000;
const SEED = envInt('ENGRAM_PROPERTY_SEED') ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const PATH = process.env.ENGRAM_PROPERTY_PATH || undefined;

type Model = Map<string, { content: string; vector: number[] }>;
interface Real {
  dataRoot: string;
  registry: Registry;
  space: SpaceHandle;
}
type Command = fc.AsyncCommand<Model, Real, false>;

async function settle(space: SpaceHandle): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stats = await space.stats();
    if (stats.pendingApply === 0 && !stats.applying) return;
    assert.ok(Date.now() < deadline, 'writes still unapplied after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function listed(space: SpaceHandle, tier?: 'warm' | 'cold'): Promise<string[]> {
  const page = await space.list({ limit: 100, ...(tier ? { tier } : {}) });
  return page.memories.map((m) => m.id);
}

/** The invariants, checked after every command. */
async function check(model: Model, real: Real): Promise<void> {
  const expected = [...model.keys()].sort();
  assert.deepEqual(await listed(real.space), expected, 'every live memory listed exactly once');
  for (const id of ID_POOL) {
    const record = await real.space.get(id);
    assert.equal(record?.content, model.get(id)?.content, `get(${id})`);
  }
  assert.equal((await real.space.stats()).memories, model.size, 'stats counts every live memory');
  // The two tier listings are two reads: a move may land in between, so retry until stable.
  let last = '';
  for (let attempt = 0; attempt < 50; attempt++) {
    await settle(real.space);
    const warm = await listed(real.space, 'warm');
    const cold = await listed(real.space, 'cold');
    const both = [...warm, ...cold].sort();
    // The counts are kept beside the tiers (LMDB would walk them to count): they must agree.
    const stats = await real.space.stats();
    const counted = `stats: warm ${stats.warmMemories}, cold ${stats.coldMemories}`;
    if (
      JSON.stringify(both) === JSON.stringify(expected) &&
      stats.warmMemories === warm.length &&
      stats.coldMemories === cold.length
    )
      return;
    last = `warm ${warm.join()} cold ${cold.join()} (${counted})`;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`tiers do not hold each memory exactly once: ${last}, expected ${expected.join()}`);
}

class Remember implements Command {
  constructor(
    readonly id: string,
    readonly content: string,
    readonly vector: number[],
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    await real.space.remember({ id: this.id, content: this.content, vector: this.vector });
    model.set(this.id, { content: this.content, vector: this.vector });
    await check(model, real);
  }
  toString = () => `remember(${this.id}, ${JSON.stringify(this.content)}, [${this.vector.join()}])`;
}

class Update implements Command {
  constructor(
    readonly id: string,
    readonly content: string,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const current = model.get(this.id);
    if (!current) {
      await assert.rejects(real.space.update(this.id, { content: this.content }), {
        code: 'ENG_MEMORY_NOT_FOUND',
      });
      return;
    }
    const updated = await real.space.update(this.id, { content: this.content });
    assert.equal(updated.content, this.content);
    model.set(this.id, { ...current, content: this.content });
    await check(model, real);
  }
  toString = () => `update(${this.id}, ${JSON.stringify(this.content)})`;
}

class Forget implements Command {
  constructor(readonly id: string) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    assert.equal(await real.space.forget(this.id), model.has(this.id), `forget(${this.id})`);
    model.delete(this.id);
    await check(model, real);
  }
  toString = () => `forget(${this.id})`;
}

/** Recall with k = every memory and the cold tier included: each live memory exactly once. */
class Recall implements Command {
  constructor(
    readonly vector: number[],
    readonly includeCold: boolean,
  ) {}
  check = (model: Readonly<Model>) => model.size > 0;
  async run(model: Model, real: Real): Promise<void> {
    const hits = await real.space.recall(this.vector, {
      k: model.size,
      includeCold: this.includeCold,
    });
    const ids = hits.map((hit) => hit.memory.id).sort();
    // k = everything: either cold is asked for, or warm falls short and cold is searched anyway.
    assert.deepEqual(ids, [...model.keys()].sort(), 'recall finds every memory exactly once');
    for (const hit of hits) assert.equal(hit.memory.content, model.get(hit.memory.id)?.content);
    await check(model, real);
  }
  toString = () => `recall([${this.vector.join()}], includeCold ${this.includeCold})`;
}

class Restart implements Command {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    await real.registry.close();
    real.registry = await Registry.open({ dataRoot: real.dataRoot, ...OPTIONS });
    real.space = await real.registry.space(SPACE);
    await check(model, real);
  }
  toString = () => 'restart()';
}

const id = fc.constantFrom(...ID_POOL);
const vector = fc
  .array(fc.integer({ min: -3, max: 3 }), { minLength: 4, maxLength: 4 })
  .filter((v) => v.some((x) => x !== 0));
const content = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== '');
const remember = fc.tuple(id, content, vector).map(([i, c, v]) => new Remember(i, c, v));
// remember is listed three times so spaces grow past the warm capacity in most runs.
const commands = fc.commands(
  [
    remember,
    remember,
    remember,
    fc.tuple(id, content).map(([i, c]) => new Update(i, c)),
    id.map((i) => new Forget(i)),
    fc.tuple(vector, fc.boolean()).map(([v, cold]) => new Recall(v, cold)),
    fc.constant(new Restart()),
  ],
  { maxCommands: 30, size: '+1', ...(PATH ? { replayPath: PATH } : {}) },
);

test('every memory lives in exactly one tier and is found exactly once (tier moves vs a Map)', async (t) => {
  const started = Date.now();
  let skipped = 0;
  t.diagnostic(`tier model: seed ${SEED}, ${RUNS} runs, budget ${BUDGET_MS} ms`);
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      if (Date.now() - started > BUDGET_MS) {
        skipped += 1;
        return;
      }
      const dataRoot = await tempDir('engram-tiers-');
      const registry = await Registry.open({ dataRoot, ...OPTIONS });
      await registry.createSpace(SPACE);
      const real: Real = { dataRoot, registry, space: await registry.space(SPACE) };
      try {
        await fc.asyncModelRun(() => ({ model: new Map(), real }), cmds);
      } finally {
        await real.registry.close();
      }
    }),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}), endOnFailure: true },
  );
  if (skipped > 0) t.diagnostic(`tier model: ${skipped} runs skipped by the time budget`);
});
