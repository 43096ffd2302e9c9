/**
 * kill -9 in the middle of tier migration. Each round forks test/fixtures/tier-writer.ts on the
 * same data root (a space whose tiny warm capacity keeps the demotion job moving memories to
 * cold while recalls and updates promote them back), SIGKILLs it at a random moment, then opens
 * the data root here and checks: every acknowledged memory is present exactly once, in exactly
 * one tier, with its content intact; every acknowledged delete stays deleted; nothing no one
 * wrote appears; the one operation in flight at the kill either happened or did not.
 *
 * ENGRAM_CRASH_SEED replays the kill delays and fixture seeds; ENGRAM_CRASH_ROUNDS sets the
 * number of rounds (default 8, about 30 s).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Registry, type SpaceHandle } from '../../engine/index.ts';
import { TIER_SPACE, sha256, type TierLine } from '../fixtures/tier-writer.ts';
import { forkFixture, killFixture, type ForkedFixture } from '../helpers/fork-fixture.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { seededRandom } from '../helpers/vectors.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/tier-writer.ts', import.meta.url));

const envInt = (name: string, fallback: number): number =>
  process.env[name] ? Number(process.env[name]) : fallback;

/** sha256 of the content a memory must have, or null when it must not exist. */
type Expected = Map<string, string | null>;

/** Complete lines of the ack file from line `from` on (a line torn by the kill is dropped). */
function linesFrom(path: string, from: number): TierLine[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const lines = text.split('\n');
  lines.pop();
  return lines.slice(from).map((line) => JSON.parse(line) as TierLine);
}

/** The vector each put stored (a replaced memory keeps the newest). */
const vectors = new Map<string, number[]>();

/** Applies acknowledged operations; returns the operation in doubt (intent without ack), if any. */
function replay(expected: Expected, lines: readonly TierLine[]): TierLine | undefined {
  let pending: TierLine | undefined;
  for (const line of lines) {
    if (line.kind === 'intent') {
      pending = line;
      if (line.vector) vectors.set(line.id, line.vector);
      continue;
    }
    assert.equal(line.seq, pending?.seq, 'an ack follows its intent');
    expected.set(line.id, line.op === 'delete' ? null : line.sha256!);
    pending = undefined;
  }
  return pending;
}

async function listAll(space: SpaceHandle, tier?: 'warm' | 'cold'): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await space.list({
      limit: 1000,
      ...(after === undefined ? {} : { after }),
      ...(tier ? { tier } : {}),
    });
    ids.push(...page.memories.map((m) => m.id));
    after = page.nextCursor;
  } while (after !== undefined);
  return ids;
}

async function settle(space: SpaceHandle): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const stats = await space.stats();
    if (stats.pendingApply === 0 && !stats.applying) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail('the recovered space did not finish applying its log');
}

/** Checks the recovered space against the expectation; resolves the operation in doubt. */
async function check(
  space: SpaceHandle,
  expected: Expected,
  doubt: TierLine | undefined,
): Promise<{ warm: number; cold: number }> {
  await settle(space);
  const all = await listAll(space);
  const warm = await listAll(space, 'warm');
  const cold = await listAll(space, 'cold');
  assert.equal(new Set(all).size, all.length, 'no memory listed twice');
  const inWarm = new Set(warm);
  const both = cold.filter((id) => inWarm.has(id));
  assert.deepEqual(both, [], 'no memory in both tiers');
  assert.deepEqual([...warm, ...cold].sort(), [...all].sort(), 'every memory in exactly one tier');
  const present = new Set(all);
  if (doubt) {
    const observed = present.has(doubt.id)
      ? sha256((await space.get(doubt.id))?.content ?? '')
      : null;
    const before = expected.get(doubt.id) ?? null;
    const afterOp = doubt.op === 'delete' ? null : doubt.sha256!;
    assert.ok(
      observed === before || observed === afterOp,
      `${doubt.op} of ${doubt.id} in flight at the kill left neither state`,
    );
    expected.set(doubt.id, observed);
  }
  for (const id of all)
    assert.ok(
      expected.get(id) !== undefined && expected.get(id) !== null,
      `${id}: nobody wrote it`,
    );
  for (const [id, sha] of expected) {
    if (sha === null) {
      assert.ok(!present.has(id), `${id} was deleted and came back`);
      assert.equal(await space.get(id), undefined);
      continue;
    }
    assert.ok(present.has(id), `acknowledged ${id} is missing`);
    const record = await space.get(id);
    assert.equal(sha256(record?.content ?? ''), sha, `${id}: content damaged`);
  }
  // The recovered vector index holds every warm memory (demotions dropped from it, promotions
  // put back, also when the index snapshot predates them): a plain recall finds each one.
  for (const id of warm) {
    const [hit] = await space.recall(vectors.get(id)!, { k: 1 });
    assert.equal(hit?.memory.id, id, `warm ${id} is not found by its own vector`);
  }
  const stats = await space.stats();
  assert.equal(stats.memories, all.length);
  assert.equal(stats.warmMemories, warm.length);
  assert.equal(stats.coldMemories, cold.length);
  return { warm: warm.length, cold: cold.length };
}

const running = new Set<ForkedFixture>();
after(async () => {
  await Promise.all([...running].map(killFixture));
});

test('kill -9 during demotions and promotions neither loses nor duplicates a memory', async (t) => {
  const seed = envInt('ENGRAM_CRASH_SEED', randomInt(1, 2 ** 31));
  const rounds = envInt('ENGRAM_CRASH_ROUNDS', 8);
  t.diagnostic(`seed ${seed}, ${rounds} rounds (replay: ENGRAM_CRASH_SEED=${seed})`);
  const random = seededRandom(seed);
  const dir = await tempDir('engram-tier-crash-');
  const dataRoot = join(dir, 'data');
  const ackFile = join(dir, 'acks.jsonl');
  const expected: Expected = new Map();
  let linesRead = 0;
  let coldSeen = 0;
  for (let round = 1; round <= rounds; round++) {
    const fixtureSeed = Math.floor(random() * 2 ** 31);
    const delay = 300 + Math.floor(random() * 1500);
    const fixture = forkFixture(FIXTURE, [dataRoot, ackFile, String(fixtureSeed)], {
      readyTimeoutMs: 30_000,
    });
    running.add(fixture);
    const info = await fixture.ready;
    await new Promise((resolve) => setTimeout(resolve, delay));
    const { signal } = await killFixture(fixture);
    running.delete(fixture);
    assert.equal(signal, 'SIGKILL', `the fixture died by itself: ${fixture.stderr()}`);
    const lines = linesFrom(ackFile, linesRead);
    linesRead += lines.length;
    const doubt = replay(expected, lines);
    const registry = await Registry.open({ dataRoot });
    try {
      const tiers = await check(await registry.space(TIER_SPACE), expected, doubt);
      coldSeen = Math.max(coldSeen, tiers.cold);
      t.diagnostic(
        `round ${round}: killed ${delay} ms after ready ${info}; ${lines.length} lines; warm ${tiers.warm}, cold ${tiers.cold}`,
      );
    } catch (error) {
      throw new Error(
        `round ${round} (seed ${seed}, fixture seed ${fixtureSeed}, kill after ${delay} ms): ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      await registry.close();
    }
  }
  assert.ok(coldSeen > 0, 'memories reached the cold tier');
});
