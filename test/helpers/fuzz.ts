/**
 * Settings shared by the fuzz tests (test/property/fuzz-*.test.ts): a seed printed before the
 * run so a failure can be replayed, a bounded number of runs and a time budget so CI stays
 * bounded. ENGRAM_FUZZ_SEED replays; ENGRAM_FUZZ_RUNS and ENGRAM_FUZZ_BUDGET_MS enlarge a run.
 */
import assert from 'node:assert/strict';
import type { Parameters } from 'fast-check';

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  assert.ok(Number.isSafeInteger(value), `${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** fast-check parameters for one fuzz target; prints the seed (and how to replay it). */
export function fuzzParameters<T>(target: string, defaultRuns: number): Parameters<T> {
  const seed = envInt('ENGRAM_FUZZ_SEED') ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const numRuns = envInt('ENGRAM_FUZZ_RUNS') ?? defaultRuns;
  const budget = envInt('ENGRAM_FUZZ_BUDGET_MS') ?? 15_000;
  process.stdout.write(
    `# fuzz ${target}: seed ${seed}, ${numRuns} runs, budget ${budget} ms (replay: ENGRAM_FUZZ_SEED=${seed})\n`,
  );
  return { seed, numRuns, interruptAfterTimeLimit: budget, markInterruptAsFailure: false };
}
