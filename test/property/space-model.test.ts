/**
 * Model-based property test of one space: random sequences of remember, update, forget, get,
 * list, recall, stats, "wait until applied" and close+reopen run against the embedded engine
 * and against a plain in-memory model, and every read must agree with the model.
 *
 * Ids come from a small pool so that replacing, forgetting and storing again the same id is
 * common; vectors are 3-dimensional with small integer components, so exact ties (parallel
 * vectors) are common too. Recall is checked as an exact top-k against a brute-force cosine
 * over the model: with a handful of memories and the default efSearch the HNSW search is exact.
 *
 * Runs: ENGRAM_PROPERTY_RUNS (default 500) within ENGRAM_PROPERTY_BUDGET_MS (default 40 s; no
 * budget when ENGRAM_PROPERTY_RUNS is set): runs that would start after the budget are skipped
 * and reported. Replay: ENGRAM_PROPERTY_SEED (and ENGRAM_PROPERTY_PATH from a failure report).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  Registry,
  isEngramError,
  type MemoryRecord,
  type SpaceHandle,
} from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SPACE = 'model';
const DIMENSION = 3;
const SCORE_TOLERANCE = 1e-5;
const ID_POOL = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'B', 'a-1'] as const;

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  assert.ok(Number.isSafeInteger(value), `${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

const RUNS = envInt('ENGRAM_PROPERTY_RUNS') ?? 500;
const BUDGET_MS =
  envInt('ENGRAM_PROPERTY_BUDGET_MS') ??
  (process.env.ENGRAM_PROPERTY_RUNS ? Number.POSITIVE_INFINITY : 40_000);
const SEED = envInt('ENGRAM_PROPERTY_SEED') ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const PATH = process.env.ENGRAM_PROPERTY_PATH || undefined;

// ---- model and real system ------------------------------------------------------------------

interface ModelMemory {
  content: string;
  metadata: Record<string, unknown>;
  vector: Float32Array | undefined;
}

interface Model {
  memories: Map<string, ModelMemory>;
  /** True once a vector was stored: the first one fixes the dimension for good. */
  dimensionFixed: boolean;
}

interface Real {
  dataRoot: string;
  registry: Registry;
  space: SpaceHandle;
}

type SpaceCommand = fc.AsyncCommand<Model, Real, false>;

function bits(vector: Float32Array): number[] {
  return Array.from(new Uint32Array(vector.buffer, vector.byteOffset, vector.length));
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Metadata is stored as JSON: a null-prototype object comes back as a plain one. */
function asJson(metadata: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
}

function showVector(vector: Float32Array | undefined): string {
  return vector ? `[${Array.from(vector).join(',')}]` : 'none';
}

function assertMatches(
  record: MemoryRecord | undefined,
  id: string,
  want: ModelMemory | undefined,
  why: string,
): void {
  if (!want) {
    assert.equal(record, undefined, `${why}: ${id} should not exist`);
    return;
  }
  assert.ok(record, `${why}: ${id} is missing`);
  assert.equal(record.id, id, why);
  assert.equal(record.content, want.content, `${why}: content of ${id}`);
  assert.deepEqual(record.metadata, want.metadata, `${why}: metadata of ${id}`);
  assert.equal(record.hasVector, want.vector !== undefined, `${why}: hasVector of ${id}`);
}

async function settle(space: SpaceHandle): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await space.stats()).pendingApply > 0) {
    assert.ok(Date.now() < deadline, 'writes still unapplied after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

// ---- commands -----------------------------------------------------------------------------

class Remember implements SpaceCommand {
  constructor(
    readonly id: string,
    readonly content: string,
    readonly metadata: Record<string, unknown>,
    readonly vector: Float32Array | undefined,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const record = await real.space.remember({
      id: this.id,
      content: this.content,
      metadata: this.metadata,
      ...(this.vector ? { vector: this.vector } : {}),
    });
    const want = { content: this.content, metadata: asJson(this.metadata), vector: this.vector };
    assertMatches(record, this.id, want, 'remember result');
    model.memories.set(this.id, want);
    if (this.vector) model.dimensionFixed = true;
  }
  toString = () =>
    `remember(${JSON.stringify(this.id)}, ${JSON.stringify(this.content)}, ${JSON.stringify(this.metadata)}, ${showVector(this.vector)})`;
}

class Update implements SpaceCommand {
  constructor(
    readonly id: string,
    readonly content: string | undefined,
    readonly metadata: Record<string, unknown> | undefined,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const patch = {
      ...(this.content !== undefined ? { content: this.content } : {}),
      ...(this.metadata !== undefined ? { metadata: this.metadata } : {}),
    };
    const current = model.memories.get(this.id);
    if (!current) {
      await assert.rejects(real.space.update(this.id, patch), (error: unknown) =>
        isEngramError(error, 'ENG_MEMORY_NOT_FOUND'),
      );
      return;
    }
    const want = {
      ...current,
      ...patch,
      ...(patch.metadata !== undefined ? { metadata: asJson(patch.metadata) } : {}),
    };
    assertMatches(await real.space.update(this.id, patch), this.id, want, 'update result');
    model.memories.set(this.id, want);
  }
  toString = () =>
    `update(${JSON.stringify(this.id)}, ${JSON.stringify({ content: this.content, metadata: this.metadata })})`;
}

class Forget implements SpaceCommand {
  constructor(readonly id: string) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    assert.equal(
      await real.space.forget(this.id),
      model.memories.has(this.id),
      `forget(${this.id})`,
    );
    model.memories.delete(this.id);
  }
  toString = () => `forget(${JSON.stringify(this.id)})`;
}

class Get implements SpaceCommand {
  constructor(readonly id: string) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const want = model.memories.get(this.id);
    assertMatches(await real.space.get(this.id), this.id, want, 'get');
    const vector = await real.space.getVector(this.id);
    if (want?.vector) {
      assert.ok(vector, `getVector(${this.id}) is missing`);
      assert.deepEqual(bits(vector), bits(want.vector), `getVector(${this.id})`);
    } else {
      assert.equal(vector, undefined, `getVector(${this.id}) should be undefined`);
    }
  }
  toString = () => `get(${JSON.stringify(this.id)})`;
}

class List implements SpaceCommand {
  constructor(readonly limit: number) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const served: MemoryRecord[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages <= ID_POOL.length + 1, 'list pagination does not end');
      const page = await real.space.list(
        after === undefined ? { limit: this.limit } : { after, limit: this.limit },
      );
      assert.ok(
        page.memories.length <= this.limit,
        `page of ${page.memories.length} > limit ${this.limit}`,
      );
      served.push(...page.memories);
      if (page.nextCursor === undefined) break;
      after = page.nextCursor;
    }
    const expected = [...model.memories.keys()].sort();
    assert.deepEqual(
      served.map((m) => m.id),
      expected,
      `list with limit ${this.limit}`,
    );
    for (const record of served)
      assertMatches(record, record.id, model.memories.get(record.id), 'list');
  }
  toString = () => `list(limit ${this.limit})`;
}

class Recall implements SpaceCommand {
  constructor(
    readonly query: Float32Array,
    readonly k: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const hits = await real.space.recall(this.query, { k: this.k });
    const reference = [...model.memories]
      .filter(([, m]) => m.vector !== undefined)
      .map(([id, m]) => ({ id, score: cosine(this.query, m.vector!) }))
      .sort((x, y) => y.score - x.score);
    const scoreOf = new Map(reference.map((r) => [r.id, r.score]));
    const why = `recall(${showVector(this.query)}, k ${this.k}) -> ${JSON.stringify(hits.map((h) => [h.memory.id, h.score]))}, reference ${JSON.stringify(reference.map((r) => [r.id, r.score]))}`;

    const expectedLength = Math.min(this.k, reference.length);
    assert.equal(hits.length, expectedLength, `${why}: number of hits`);
    assert.equal(
      new Set(hits.map((h) => h.memory.id)).size,
      hits.length,
      `${why}: an id recalled twice`,
    );
    for (const [i, hit] of hits.entries()) {
      const id = hit.memory.id;
      const reference = scoreOf.get(id);
      assert.ok(reference !== undefined, `${why}: ${id} has no vector in the model`);
      assert.ok(
        Math.abs(hit.parts.similarity! - reference) <= SCORE_TOLERANCE,
        `${why}: similarity of ${id}`,
      );
      assertMatches(hit.memory, id, model.memories.get(id), why);
      if (i > 0) assert.ok(hits[i - 1]!.score >= hit.score, `${why}: scores must descend`);
    }
    if (expectedLength > 0) {
      // Exact top-k up to ties: nothing left out may beat the k-th reference score.
      const kth = reference[expectedLength - 1]!.score;
      const returned = new Set(hits.map((h) => h.memory.id));
      for (const { id, score } of reference) {
        if (returned.has(id))
          assert.ok(score >= kth - SCORE_TOLERANCE, `${why}: ${id} is not in the top ${this.k}`);
        else
          assert.ok(score <= kth + SCORE_TOLERANCE, `${why}: ${id} (score ${score}) was left out`);
      }
    }
  }
  toString = () => `recall(${showVector(this.query)}, k ${this.k})`;
}

class Stats implements SpaceCommand {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const stats = await real.space.stats();
    assert.equal(stats.memories, model.memories.size, 'stats().memories');
    assert.equal(stats.dimension, model.dimensionFixed ? DIMENSION : null, 'stats().dimension');
  }
  toString = () => 'stats()';
}

class Settle implements SpaceCommand {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    await settle(real.space);
  }
  toString = () => 'waitUntilApplied()';
}

class Reopen implements SpaceCommand {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    await real.registry.close();
    real.registry = await Registry.open({ dataRoot: real.dataRoot });
    real.space = await real.registry.space(SPACE);
  }
  toString = () => 'close+reopen()';
}

// ---- arbitraries ----------------------------------------------------------------------------

const idArb = fc.constantFrom(...ID_POOL);
const contentArb = fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s.trim() !== '');
const metadataArb = fc.dictionary(
  fc.constantFrom('tag', 'n', 'k'),
  fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.boolean(),
    fc.string({ maxLength: 3 }),
    fc.constant(null),
  ),
  { maxKeys: 2 },
);
const vectorArb = fc
  .array(fc.integer({ min: -2, max: 2 }), { minLength: DIMENSION, maxLength: DIMENSION })
  .filter((v) => v.some((x) => x !== 0))
  .map((v) => Float32Array.from(v));

const commandArbs: Array<fc.Arbitrary<SpaceCommand>> = [
  fc
    .tuple(idArb, contentArb, metadataArb, fc.option(vectorArb, { nil: undefined, freq: 5 }))
    .map(([id, content, metadata, vector]) => new Remember(id, content, metadata, vector)),
  fc
    .tuple(
      idArb,
      fc.option(contentArb, { nil: undefined }),
      fc.option(metadataArb, { nil: undefined }),
    )
    .map(([id, content, metadata]) => new Update(id, content, metadata)),
  idArb.map((id) => new Forget(id)),
  idArb.map((id) => new Get(id)),
  fc.integer({ min: 1, max: 4 }).map((limit) => new List(limit)),
  fc.tuple(vectorArb, fc.integer({ min: 1, max: 12 })).map(([query, k]) => new Recall(query, k)),
  fc.constant(new Stats()),
  fc.constant(new Settle()),
  fc.constant(new Reopen()),
];

// ---- the property -------------------------------------------------------------------------

test('a space behaves like an in-memory map of memories under random operations and reopens', async (t) => {
  const root = await tempDir('engram-property-');
  const started = Date.now();
  let executed = 0;
  let skipped = 0;
  let runNumber = 0;
  t.diagnostic(
    `seed ${SEED}${PATH ? ` path ${PATH}` : ''}, numRuns ${RUNS}, budget ${BUDGET_MS} ms (replay: ENGRAM_PROPERTY_SEED=${SEED})`,
  );

  const property = fc.asyncProperty(
    fc.commands(commandArbs, { maxCommands: 40 }),
    async (commands) => {
      if (Date.now() - started > BUDGET_MS) {
        skipped += 1;
        return;
      }
      executed += 1;
      const dataRoot = await mkdtemp(join(root, `run-${runNumber++}-`));
      const registry = await Registry.open({ dataRoot });
      const real: Real = {
        dataRoot,
        registry,
        space: await registry.space((await registry.createSpace(SPACE)).id),
      };
      try {
        await fc.asyncModelRun(
          () => ({ model: { memories: new Map(), dimensionFixed: false }, real }),
          commands,
        );
      } finally {
        await real.registry.close();
        await rm(dataRoot, { recursive: true, force: true });
      }
    },
  );

  try {
    await fc.assert(property, {
      seed: SEED,
      numRuns: RUNS,
      includeErrorInReport: true,
      ...(PATH ? { path: PATH } : {}),
    });
  } finally {
    t.diagnostic(
      `${executed} runs executed, ${skipped} skipped over the budget, in ${Date.now() - started} ms (seed ${SEED})`,
    );
  }
});
