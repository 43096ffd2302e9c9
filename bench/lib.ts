/** Shared benchmark plumbing: statistics, temp dirs, child processes, machine description. */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, release, tmpdir, totalmem, type as osType } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = dirname(BENCH_DIR);
export const RESULTS_DIR = join(BENCH_DIR, 'results');

// ---- statistics ------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Rounds for display and JSON: 3 significant digits, never in exponent form for normal sizes. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return Number(value.toFixed(Math.min(decimals, 10)));
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const r = round(value);
  return Math.abs(r) >= 1000 ? Math.round(r).toLocaleString('en-US') : String(r);
}

// ---- results model -----------------------------------------------------------------------

/** A figure that must be met: on the engine/baseline ratio, or on the engine's own median. */
export interface Target {
  on: 'ratio' | 'engine';
  op: '>=' | '<=' | '<' | '>';
  value: number;
}

/** One engine-vs-baseline comparison, measured `engine.length` times in the same run. */
export interface Row {
  case: string;
  unit: string;
  /** Whether a larger value is better (throughput) or worse (latency, time). */
  higherIsBetter: boolean;
  engineLabel: string;
  baselineLabel: string;
  engine: number[];
  baseline: number[];
  target?: Target;
  /** Further per-repetition observations (group size, backlog, poll overhead, ...). */
  details?: Record<string, number[]>;
}

export interface BenchOutput {
  parameters: Record<string, unknown>;
  /** How the figures were obtained, in a few sentences: printed in the summary. */
  method: string[];
  rows: Row[];
  notes?: string[];
}

export interface BenchContext {
  scale: number;
  /** Repetitions asked for on the command line, if any. */
  reps: number | undefined;
  /** When set, child processes write a CPU profile of their task here (--profile). */
  profileDir: string | undefined;
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  description: string;
  /** Left out of a run that names no benchmark (too long for the default suite); run by name. */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<BenchOutput>;
}

export interface RowSummary {
  case: string;
  unit: string;
  engineLabel: string;
  baselineLabel: string;
  engineMedian: number;
  baselineMedian: number;
  /** engine/baseline for each repetition. */
  ratios: number[];
  /** Median of the per-repetition ratios. */
  ratioMedian: number;
  target?: Target & { met: boolean };
  detailMedians?: Record<string, number>;
}

function compare(a: number, op: Target['op'], b: number): boolean {
  switch (op) {
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    case '<':
      return a < b;
    case '>':
      return a > b;
  }
}

export function summariseRow(row: Row): RowSummary {
  const ratios = row.engine.map((e, i) => e / row.baseline[i]!);
  const summary: RowSummary = {
    case: row.case,
    unit: row.unit,
    engineLabel: row.engineLabel,
    baselineLabel: row.baselineLabel,
    engineMedian: median(row.engine),
    baselineMedian: median(row.baseline),
    ratios: ratios.map((r) => round(r, 4)),
    ratioMedian: median(ratios),
  };
  if (row.target) {
    const subject = row.target.on === 'ratio' ? summary.ratioMedian : summary.engineMedian;
    summary.target = { ...row.target, met: compare(subject, row.target.op, row.target.value) };
  }
  if (row.details) {
    summary.detailMedians = Object.fromEntries(
      Object.entries(row.details).map(([k, v]) => [k, round(median(v), 4)]),
    );
  }
  return summary;
}

// ---- temp dirs -----------------------------------------------------------------------------

const liveTempDirs = new Set<string>();

/** A fresh directory under os.tmpdir(); removed by removeTempDir or, at the latest, on exit. */
export async function makeTempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `engram-bench-${label}-`));
  liveTempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  liveTempDirs.delete(dir);
}

/** Runs `fn` with a fresh temp directory, removed afterwards whatever happens. */
export async function inTempDir<T>(label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir(label);
  try {
    return await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}

export async function removeAllTempDirs(): Promise<void> {
  for (const dir of [...liveTempDirs]) await removeTempDir(dir);
}

// ---- child processes -------------------------------------------------------------------

/**
 * Starts the V8 sampling profiler in this process (node:inspector, so the process need not exit
 * to get the profile) when ENGRAM_BENCH_PROFILE_DIR is set (run.ts --profile); the returned
 * stop() writes `<name>-<time>-<pid>.cpuprofile` there. Without the variable both do nothing.
 */
export async function startProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.ENGRAM_BENCH_PROFILE_DIR;
  if (!dir) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = `${name.replace(/[^\w.-]/g, '-')}-${Date.now()}-${process.pid}.cpuprofile`;
    writeFileSync(join(dir, file), JSON.stringify(profile));
    session.disconnect();
  };
}

export interface ChildOptions {
  /** Directory for a CPU profile of the child's task (taken with node:inspector). */
  profileDir: string | undefined;
  timeoutMs: number;
}

/**
 * Runs one task of bench/child.ts in a fresh Node process and returns what it wrote to its
 * result file. Engine children SIGKILL themselves once the result is written: that skips the
 * drain of the background applier at close (minutes for a large backlog), which is never part
 * of what is measured, and for the replay benchmark it is the crash being simulated.
 */
export async function runChild<T>(
  task: string,
  params: Record<string, unknown>,
  options: ChildOptions,
): Promise<T> {
  const dir = await makeTempDir('child');
  const resultFile = join(dir, 'result.json');
  try {
    const args = [
      // The parent's own flags (--import tsx) carry over.
      ...process.execArgv,
      join(BENCH_DIR, 'child.ts'),
      task,
      JSON.stringify({ ...params, resultFile }),
    ];
    const child = spawn(process.execPath, args, {
      cwd: REPO_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.profileDir
        ? { ...process.env, ENGRAM_BENCH_PROFILE_DIR: options.profileDir }
        : process.env,
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>(
      (resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (c, s) => resolve({ code: c, signal: s }));
      },
    );
    clearTimeout(timer);
    let text: string;
    try {
      text = await readFile(resultFile, 'utf8');
    } catch {
      throw new Error(
        `bench child "${task}" ended (code ${code}, signal ${signal}) without a result:\n${output}`,
      );
    }
    return JSON.parse(text) as T;
  } finally {
    await removeTempDir(dir);
  }
}

// ---- machine description ---------------------------------------------------------------

function tryExec(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString('utf8')
      .trim();
  } catch {
    return undefined;
  }
}

/** The mount holding `path` (longest matching mount point in /proc/mounts), Linux only. */
function filesystemOf(path: string): string | undefined {
  try {
    let best: { point: string; type: string; device: string } | undefined;
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, point, type] = line.split(' ');
      if (!device || !point || !type) continue;
      if (
        (path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`)) &&
        (!best || point.length > best.point.length)
      ) {
        best = { point, type, device };
      }
    }
    return best ? `${best.type} on ${best.point} (${best.device})` : undefined;
  } catch {
    return undefined;
  }
}

export interface Environment {
  node: string;
  platform: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  commit: string | null;
  dirty: boolean | null;
  tmpdir: string;
  tmpFilesystem: string | null;
}

export function describeEnvironment(): Environment {
  const commit = tryExec('git', ['rev-parse', 'HEAD']) ?? null;
  const status = commit
    ? tryExec('git', ['status', '--porcelain', '--untracked-files=no'])
    : undefined;
  return {
    node: process.version,
    platform: `${osType()} ${release()} ${process.arch}`,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30),
    commit,
    dirty: status === undefined ? null : status.length > 0,
    tmpdir: tmpdir(),
    tmpFilesystem: filesystemOf(tmpdir()) ?? null,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
