/**
 * Kill -9 in the middle of concurrent writes, recover, and check every acknowledged write.
 *
 * Each round forks test/fixtures/crash-writer.ts on the same data root, waits a random short
 * time after it says it is ready, SIGKILLs it, opens the data root here and checks the result
 * against the fixture's ack file, then closes and starts the next round (the log, the warm
 * tier and the index snapshots accumulate across rounds).
 *
 * Exactness: every id is written by one writer, one operation at a time, and the fixture logs
 * an intent line before each call and an ack line after it. So for each id the recovered state
 * must be exactly the state after its last acknowledged operation, or, if one more operation
 * was in flight at the kill (an intent without an ack), exactly the state after that one.
 * Anything else (an acknowledged write missing, a stale version, a half record, a memory that
 * no one wrote, a deleted memory coming back or still recallable) fails the round.
 *
 * ENGRAM_CRASH_SEED replays a run's kill delays and fixture seeds (the kill lands wherever the
 * scheduler puts it, so a replay is close, not bit-identical); ENGRAM_CRASH_ROUNDS sets the
 * number of rounds (default 50).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Registry, type MemoryRecord, type SpaceHandle } from '../../engine/index.ts';
import {
  CRASH_SPACES,
  sha256,
  type AckLine,
  type CrashLine,
  type IntentLine,
} from '../fixtures/crash-writer.ts';
import { forkFixture, killFixture, type ForkedFixture } from '../helpers/fork-fixture.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { seededRandom } from '../helpers/vectors.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/crash-writer.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
/** How many older memories per space get a recall check each round (all memories touched in the round do). */
const RECALL_SAMPLE = 150;

/** What a live memory must look like: produced by one writer operation. */
interface MemoryState {
  sha256: string;
  vector: number[] | null;
  writer: string;
  seq: number;
  /** Known once acknowledged or observed; unknown for a version only in flight at the kill. */
  lsn: number | undefined;
}

/** undefined = the memory does not exist. */
type State = MemoryState | undefined;

interface Operation {
  intent: IntentLine;
  ack: AckLine | undefined;
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

/** Complete lines of the ack file; a last line cut by the kill (no newline) is dropped. */
function readLines(path: string): CrashLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const lines = text.split('\n');
  lines.pop(); // '' after the final newline, or a torn line
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as CrashLine;
    } catch {
      throw new Error(`ack file line ${i + 1} is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
    }
  });
}

/**
 * Groups the ack file into per-id operation sequences and checks the fixture kept its
 * protocol: per writer, intent k, ack k, intent k+1, ... with at most a final intent unacked.
 */
function operationsById(lines: CrashLine[]): Map<string, Map<string, Operation[]>> {
  const bySpace = new Map<string, Map<string, Operation[]>>();
  const open = new Map<string, Operation>(); // writer -> operation awaiting its ack
  const ownerOf = new Map<string, string>(); // space/id -> writer (this round)
  for (const line of lines) {
    const key = `${line.space}/${line.id}`;
    if (line.kind === 'error') {
      assert.fail(`the fixture hit an engine error on ${line.op} ${key}: ${line.message}`);
    }
    if (line.kind === 'intent') {
      assert.equal(
        open.get(line.writer),
        undefined,
        `writer ${line.writer} started seq ${line.seq} before its previous op was acknowledged`,
      );
      const owner = ownerOf.get(key);
      assert.ok(
        owner === undefined || owner === line.writer,
        `${key} written by ${owner} and ${line.writer}`,
      );
      ownerOf.set(key, line.writer);
      const op: Operation = { intent: line, ack: undefined };
      open.set(line.writer, op);
      let ids = bySpace.get(line.space);
      if (!ids) bySpace.set(line.space, (ids = new Map<string, Operation[]>()));
      let ops = ids.get(line.id);
      if (!ops) ids.set(line.id, (ops = []));
      ops.push(op);
    } else {
      const op = open.get(line.writer);
      assert.ok(
        op && op.intent.seq === line.seq && op.intent.id === line.id && op.intent.op === line.op,
        `ack without its intent: ${JSON.stringify(line)}`,
      );
      if (line.op !== 'delete')
        assert.equal(
          line.sha256,
          op.intent.sha256,
          `${key}: engine returned other content than written`,
        );
      op.ack = line;
      open.delete(line.writer);
    }
  }
  return bySpace;
}

function applyOp(state: State, op: Operation, key: string): State {
  const { intent, ack } = op;
  switch (intent.op) {
    case 'put':
      return {
        sha256: intent.sha256!,
        vector: intent.vector ?? null,
        writer: intent.writer,
        seq: intent.seq,
        lsn: ack?.lsn,
      };
    case 'update':
      assert.ok(state, `fixture updated ${key}, which does not exist`);
      return {
        ...state,
        sha256: intent.sha256!,
        writer: intent.writer,
        seq: intent.seq,
        lsn: ack?.lsn,
      };
    case 'delete':
      assert.ok(state, `fixture deleted ${key}, which does not exist`);
      return undefined;
  }
}

function sameVector(actual: Float32Array | undefined, expected: number[] | null): boolean {
  if (expected === null) return actual === undefined;
  return (
    actual !== undefined &&
    actual.length === expected.length &&
    expected.every((v, i) => actual[i] === v)
  );
}

function describeState(state: State): string {
  return state
    ? `content ${state.sha256.slice(0, 12)} by ${state.writer}#${state.seq}, lsn ${state.lsn ?? '?'}, vector ${state.vector ? 'yes' : 'no'}`
    : 'absent';
}

function describeObserved(
  record: MemoryRecord | undefined,
  vector: Float32Array | undefined,
): string {
  if (!record) return 'absent';
  const meta = record.metadata as { writer?: unknown; seq?: unknown };
  return `content ${sha256(record.content).slice(0, 12)} by ${String(meta.writer)}#${String(meta.seq)}, lsn ${record.lsn}, vector ${vector ? 'yes' : 'no'} (hasVector ${record.hasVector})`;
}

function matches(
  state: State,
  record: MemoryRecord | undefined,
  vector: Float32Array | undefined,
): boolean {
  if (!state) return record === undefined && vector === undefined;
  if (!record) return false;
  const meta = record.metadata as { writer?: unknown; seq?: unknown };
  return (
    sha256(record.content) === state.sha256 &&
    meta.writer === state.writer &&
    meta.seq === state.seq &&
    record.hasVector === (state.vector !== null) &&
    sameVector(vector, state.vector) &&
    (state.lsn === undefined || record.lsn === state.lsn)
  );
}

async function listAll(space: SpaceHandle): Promise<MemoryRecord[]> {
  const out: MemoryRecord[] = [];
  let after: string | undefined;
  do {
    const page = await space.list(after === undefined ? { limit: 1000 } : { after, limit: 1000 });
    out.push(...page.memories);
    after = page.nextCursor;
  } while (after !== undefined);
  return out;
}

interface RoundReport {
  acked: number;
  inFlight: number;
  inFlightSurvived: number;
}

/**
 * Opens the data root, checks every space against the model (what the previous rounds left,
 * verified) and this round's ack file, and returns the model for the next round.
 */
async function verify(
  dataRoot: string,
  model: Map<string, Map<string, MemoryState>>,
  lastLsns: Map<string, number>,
  lines: CrashLine[],
  random: () => number,
): Promise<RoundReport> {
  const report: RoundReport = { acked: 0, inFlight: 0, inFlightSurvived: 0 };
  const ops = operationsById(lines);
  const registry = await Registry.open({ dataRoot });
  try {
    const listed = new Set<string>((await registry.listSpaces({ counts: false })).map((s) => s.id));
    for (const name of CRASH_SPACES) {
      const known = model.get(name) ?? new Map<string, MemoryState>();
      const touched = ops.get(name) ?? new Map<string, Operation[]>();
      if (!listed.has(name)) {
        assert.equal(known.size + touched.size, 0, `space ${name} is gone but was written to`);
        continue;
      }
      const space = await registry.space(name);
      const stats = await space.stats(); // throws ENG_SPACE_QUARANTINED if recovery failed
      assert.equal(stats.state, 'open');

      // LSNs never go back and are never reused across a crash.
      const previousLast = lastLsns.get(name) ?? 0;
      assert.ok(
        stats.lastLsn >= previousLast,
        `${name}: lastLsn ${stats.lastLsn} went back from ${previousLast}`,
      );
      let maxAcked = 0;
      for (const sequence of touched.values()) {
        for (const { ack } of sequence) {
          if (ack?.lsn === undefined) continue;
          assert.ok(
            ack.lsn > previousLast,
            `${name}: acknowledged LSN ${ack.lsn} is not above the LSN ${previousLast} reached before this run`,
          );
          maxAcked = Math.max(maxAcked, ack.lsn);
        }
      }
      assert.ok(
        stats.lastLsn >= maxAcked,
        `${name}: lastLsn ${stats.lastLsn} is below acknowledged LSN ${maxAcked}`,
      );

      const next = new Map<string, MemoryState>();
      const ids = new Set([...known.keys(), ...touched.keys()]);
      for (const id of ids) {
        const key = `${name}/${id}`;
        const base = known.get(id);
        const sequence = touched.get(id) ?? [];
        let certain: State = base;
        let pending: Operation | undefined;
        for (const [i, op] of sequence.entries()) {
          if (op.ack) {
            report.acked += 1;
            certain = applyOp(certain, op, key);
          } else {
            assert.equal(
              i,
              sequence.length - 1,
              `${key}: an unacknowledged op is followed by another`,
            );
            pending = op;
          }
        }
        const alternative = pending ? applyOp(certain, pending, key) : undefined;
        if (pending) report.inFlight += 1;

        const record = await space.get(id);
        const vector = await space.getVector(id);
        let observed: State;
        if (matches(certain, record, vector)) {
          observed = certain;
        } else if (pending && matches(alternative, record, vector)) {
          report.inFlightSurvived += 1;
          observed = alternative;
          if (record && certain?.lsn !== undefined)
            assert.ok(
              record.lsn > certain.lsn,
              `${key}: in-flight version has LSN ${record.lsn}, not above ${certain.lsn}`,
            );
          if (record)
            assert.ok(
              record.lsn > previousLast,
              `${key}: in-flight version has an LSN from an earlier run`,
            );
        } else {
          assert.fail(
            `${key} after recovery is ${describeObserved(record, vector)}; ` +
              `expected ${describeState(certain)}` +
              (pending
                ? ` or, with the in-flight ${pending.intent.op} #${pending.intent.seq}, ${describeState(alternative)}`
                : ' (no op in flight)'),
          );
        }
        if (observed && record) next.set(id, { ...observed, lsn: record.lsn });
      }

      // Nothing visible that nobody wrote, nothing half-written, and the listing agrees with get().
      const all = await listAll(space);
      for (const memory of all) {
        const state = next.get(memory.id);
        assert.ok(
          state,
          `${name}/${memory.id} is visible but no acknowledged or in-flight write produced it`,
        );
        assert.equal(
          sha256(memory.content),
          state.sha256,
          `${name}/${memory.id}: list() shows other content than get()`,
        );
        assert.equal(
          memory.lsn,
          state.lsn,
          `${name}/${memory.id}: list() shows another version than get()`,
        );
      }
      assert.equal(
        all.length,
        next.size,
        `${name}: list() shows ${all.length} memories, get() finds ${next.size}`,
      );
      assert.equal(
        (await space.stats()).memories,
        next.size,
        `${name}: stats().memories disagrees with the memories found`,
      );
      for (const state of next.values()) {
        if (state.lsn !== undefined)
          assert.ok(
            state.lsn <= stats.lastLsn,
            `${name}: a memory has LSN ${state.lsn} above lastLsn ${stats.lastLsn}`,
          );
      }

      // Recall: every memory touched this round (and a sample of older ones) is found by its own
      // vector, and no hit is a deleted or unknown memory.
      const withVector = [...next.entries()].filter(([, s]) => s.vector !== null);
      const fresh = withVector.filter(([id]) => touched.has(id));
      const older = withVector.filter(([id]) => !touched.has(id));
      const sample =
        older.length <= RECALL_SAMPLE
          ? older
          : Array.from(
              { length: RECALL_SAMPLE },
              () => older[Math.floor(random() * older.length)]!,
            );
      for (const [id, state] of [...fresh, ...sample]) {
        const hits = await space.recall(state.vector!, { k: 10 });
        assert.ok(
          hits.some((h) => h.memory.id === id),
          `${name}/${id}: recall with its own vector does not find it`,
        );
        for (const hit of hits) {
          const expected = next.get(hit.memory.id);
          assert.ok(expected, `${name}: recall returned ${hit.memory.id}, which does not exist`);
          assert.equal(
            sha256(hit.memory.content),
            expected.sha256,
            `${name}/${hit.memory.id}: recall returned stale content`,
          );
        }
      }
      // Deleted memories stay out of recall: query with the last vector of each one deleted this round.
      for (const [id, sequence] of touched) {
        if (next.has(id)) continue;
        const lastVector = [
          known.get(id)?.vector ?? null,
          ...sequence.map((op) => op.intent.vector ?? null),
        ]
          .filter((v) => v !== null)
          .at(-1);
        if (!lastVector) continue;
        const hits = await space.recall(lastVector, { k: 10 });
        assert.ok(
          !hits.some((h) => h.memory.id === id),
          `${name}/${id} is deleted but recall still returns it`,
        );
      }

      model.set(name, next);
      lastLsns.set(name, stats.lastLsn);
    }
  } finally {
    await registry.close();
  }
  return report;
}

const children = new Set<ForkedFixture>();
after(async () => {
  await Promise.all([...children].map(killFixture));
});

test('every acknowledged write survives kill -9 in the middle of concurrent writes, and nothing else appears', async (t) => {
  const seed = envInt('ENGRAM_CRASH_SEED', randomInt(1, 2 ** 31));
  const rounds = envInt('ENGRAM_CRASH_ROUNDS', 50);
  t.diagnostic(
    `seed ${seed}, ${rounds} rounds (replay: ENGRAM_CRASH_SEED=${seed} ENGRAM_CRASH_ROUNDS=${rounds})`,
  );
  const random = seededRandom(seed);
  const dir = await tempDir('engram-crash-');
  const dataRoot = join(dir, 'data');
  const model = new Map<string, Map<string, MemoryState>>();
  const lastLsns = new Map<string, number>();
  const totals = { acked: 0, inFlight: 0, inFlightSurvived: 0 };
  const started = performance.now();

  for (let round = 1; round <= rounds; round++) {
    const fixtureSeed = Math.floor(random() * 2 ** 31);
    // Mostly 150-600 ms into the writes; one round in five 0-150 ms, while the fixture is still
    // applying and checkpointing what the previous recovery left.
    const delay = random() < 0.2 ? Math.floor(random() * 150) : 150 + Math.floor(random() * 450);
    const ackFile = join(dir, `acks-${round}.jsonl`);
    const child = forkFixture(FIXTURE, [dataRoot, ackFile, String(fixtureSeed)], {
      readyTimeoutMs: READY_TIMEOUT_MS,
    });
    children.add(child);
    let readyInfo: string;
    try {
      readyInfo = await child.ready;
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      const exit = await killFixture(child);
      children.delete(child);
      assert.equal(
        exit.signal,
        'SIGKILL',
        `round ${round} (seed ${seed}): the fixture ended on its own (code ${exit.code}) before the kill; stderr:\n${child.stderr()}`,
      );
    }
    try {
      const report = await verify(dataRoot, model, lastLsns, readLines(ackFile), random);
      totals.acked += report.acked;
      totals.inFlight += report.inFlight;
      totals.inFlightSurvived += report.inFlightSurvived;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `round ${round}/${rounds}, kill ${delay} ms after ready, fixture seed ${fixtureSeed} ${readyInfo}: ${message}\n` +
          `replay with ENGRAM_CRASH_SEED=${seed} ENGRAM_CRASH_ROUNDS=${rounds}`,
        { cause: error },
      );
    }
  }
  const live = [...model.values()].reduce((n, m) => n + m.size, 0);
  t.diagnostic(
    `${rounds} rounds in ${Math.round(performance.now() - started)} ms: ${totals.acked} acknowledged writes checked, ` +
      `${totals.inFlight} in flight at a kill (${totals.inFlightSurvived} of them survived), ${live} memories live at the end`,
  );
  assert.ok(
    totals.acked >= rounds,
    `only ${totals.acked} acknowledged writes in ${rounds} rounds: the test checked almost nothing`,
  );
});
