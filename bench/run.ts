/**
 * Storage benchmarks with same-run baselines.
 *
 *   npm run bench                          # every default benchmark (~15-20 min on 2 busy cores)
 *   npm run bench -- durable-writes replay # some of them
 *   npm run bench -- --scale=4 --reps=7    # bigger (also ENGRAM_BENCH_SCALE / ENGRAM_BENCH_REPS)
 *   npm run bench -- --profile replay      # CPU profiles of the child processes, see profile-top.ts
 *   npm run bench -- recall-quality-100k   # opt-in benchmarks run only when named
 *
 * Machines are shared and noisy, so every figure is a ratio to a baseline measured in the same
 * run, repeated, and quoted as a median. Each benchmark writes bench/results/<name>-<time>.json
 * (machine, commit, parameters, every repetition, medians, ratios); bench/results/summary.md
 * shows the newest result of each benchmark.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { durableWrites } from './benchmarks/durable-writes.ts';
import { grpcThroughput } from './benchmarks/grpc-throughput.ts';
import { httpThroughput } from './benchmarks/http-throughput.ts';
import { indexCatchUp } from './benchmarks/index-catch-up.ts';
import { ingest } from './benchmarks/ingest.ts';
import { memoryFootprint } from './benchmarks/memory-footprint.ts';
import { multiTenant } from './benchmarks/multi-tenant.ts';
import { postgresVsLmdb } from './benchmarks/postgres-vs-lmdb.ts';
import { recallQuality, recallQuality100k } from './benchmarks/recall-quality.ts';
import { replay } from './benchmarks/replay.ts';
import { startup10k } from './benchmarks/startup-10k.ts';
import { tierFootprint } from './benchmarks/tier-footprint.ts';
import {
  RESULTS_DIR,
  REPO_DIR,
  describeEnvironment,
  formatNumber,
  removeAllTempDirs,
  round,
  summariseRow,
  type BenchContext,
  type Benchmark,
  type Environment,
  type Row,
  type RowSummary,
} from './lib.ts';

const BENCHMARKS: readonly Benchmark[] = [
  durableWrites,
  replay,
  indexCatchUp,
  startup10k,
  grpcThroughput,
  httpThroughput,
  postgresVsLmdb,
  recallQuality,
  recallQuality100k,
  multiTenant,
  memoryFootprint,
  tierFootprint,
  ingest,
];

interface ResultFile {
  benchmark: string;
  description: string;
  startedAt: string;
  seconds: number;
  command: string;
  environment: Environment;
  scale: number;
  /** Run with --profile: timings are distorted by the profiler, so summary.md skips it. */
  profiled: boolean;
  parameters: Record<string, unknown>;
  method: string[];
  rows: Array<Row & { summary: RowSummary }>;
  notes: string[];
}

interface Args {
  names: string[];
  scale: number;
  reps: number | undefined;
  profile: boolean;
}

function usage(): string {
  return [
    'usage: npm run bench -- [name ...] [--scale=X] [--reps=N] [--profile] [--list]',
    '',
    'benchmarks:',
    ...BENCHMARKS.map((b) => `  ${b.name.padEnd(20)} ${b.description}`),
    '',
    '--scale=X   multiply data sizes and measurement windows (env ENGRAM_BENCH_SCALE, default 1)',
    '--reps=N    repetitions per benchmark (env ENGRAM_BENCH_REPS; default per benchmark)',
    '--profile   CPU-profile each benchmark child process (bench/results/profiles/);',
    '            such runs are kept in JSON but left out of summary.md',
  ].join('\n');
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    names: [],
    scale: Number(process.env.ENGRAM_BENCH_SCALE ?? 1),
    reps: process.env.ENGRAM_BENCH_REPS ? Number(process.env.ENGRAM_BENCH_REPS) : undefined,
    profile: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') ? arg.split('=', 2) : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? '';
    switch (flag) {
      case '--help':
      case '-h':
        console.log(usage());
        process.exit(0);
        break;
      case '--list':
        for (const b of BENCHMARKS) console.log(b.name);
        process.exit(0);
        break;
      case '--scale':
        args.scale = Number(value());
        break;
      case '--reps':
        args.reps = Number(value());
        break;
      case '--profile':
        args.profile = true;
        break;
      default:
        if (arg.startsWith('-')) throw new Error(`unknown option ${arg}\n${usage()}`);
        args.names.push(arg);
    }
  }
  if (!(args.scale > 0)) throw new Error('--scale must be a positive number');
  if (args.reps !== undefined && !(Number.isInteger(args.reps) && args.reps >= 1)) {
    throw new Error('--reps must be a positive integer');
  }
  for (const name of args.names) {
    if (!BENCHMARKS.some((b) => b.name === name)) {
      throw new Error(`unknown benchmark "${name}"\n${usage()}`);
    }
  }
  return args;
}

function fileStamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

function describeTarget(s: RowSummary): string {
  if (!s.target) return '';
  const subject = s.target.on === 'ratio' ? 'ratio' : s.unit;
  return `${s.target.met ? 'met' : 'MISSED'} (${subject} ${s.target.op} ${s.target.value})`;
}

function tableRows(benchmark: string, rows: RowSummary[]): string[][] {
  return rows.map((s) => [
    benchmark,
    s.case,
    `${formatNumber(s.engineMedian)} ${s.unit}`,
    `${formatNumber(s.baselineMedian)} ${s.unit}`,
    formatNumber(s.ratioMedian),
    describeTarget(s),
  ]);
}

const HEADER = [
  'benchmark',
  'case',
  'engine (median)',
  'baseline (median)',
  'ratio engine/baseline',
  'target',
];

function printTable(rows: string[][]): void {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  console.log(line(HEADER));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

function markdownTable(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** bench/results/summary.md from the newest result file of each benchmark (profiled runs skipped). */
async function writeSummary(): Promise<string> {
  const files = (await readdir(RESULTS_DIR)).filter((f) => f.endsWith('.json')).sort();
  const latest: ResultFile[] = [];
  for (const bench of BENCHMARKS) {
    for (const file of files.filter((f) => f.startsWith(`${bench.name}-`)).reverse()) {
      const result = JSON.parse(await readFile(join(RESULTS_DIR, file), 'utf8')) as ResultFile;
      if (result.profiled) continue;
      latest.push(result);
      break;
    }
  }
  const lines = [
    '# Engram storage benchmarks',
    '',
    'Newest result of each benchmark (bench/results/*.json hold every repetition). Each figure is',
    'the median over repetitions; "ratio" is the median of the per-repetition engine/baseline',
    'ratios, both sides measured in the same run on the same machine.',
    '',
    ...markdownTable(
      [...HEADER, 'run'],
      latest.flatMap((r) =>
        tableRows(
          r.benchmark,
          r.rows.map((row) => row.summary),
        ).map((cells) => [
          ...cells,
          `${r.startedAt.slice(0, 19)}Z ${r.environment.commit?.slice(0, 8) ?? ''}`,
        ]),
      ),
    ),
    '',
  ];
  for (const r of latest) {
    lines.push(`## ${r.benchmark}`, '', r.description, '');
    lines.push(
      `Run ${r.startedAt} (${round(r.seconds)} s), \`${r.command}\`, scale ${r.scale}, ` +
        `Node ${r.environment.node}, ${r.environment.cpuModel} x${r.environment.cpus}, ` +
        `commit ${r.environment.commit ?? 'unknown'}${r.environment.dirty ? ' (dirty)' : ''}, ` +
        `temp fs ${r.environment.tmpFilesystem ?? r.environment.tmpdir}.`,
      '',
    );
    for (const m of r.method) lines.push(`- ${m}`);
    lines.push('');
    for (const row of r.rows) {
      const s = row.summary;
      lines.push(
        `**${s.case}**: engine ${formatNumber(s.engineMedian)} ${s.unit} ` +
          `(${row.engine.map(formatNumber).join(', ')}), baseline ${formatNumber(s.baselineMedian)} ${s.unit} ` +
          `(${row.baseline.map(formatNumber).join(', ')}), ratio ${formatNumber(s.ratioMedian)} ` +
          `(${s.ratios.map(formatNumber).join(', ')})${s.target ? `, target ${describeTarget(s)}` : ''}.`,
      );
      if (s.detailMedians) {
        lines.push(
          '',
          `Medians: ${Object.entries(s.detailMedians)
            .map(([k, v]) => `${k} ${formatNumber(v)}`)
            .join(', ')}.`,
        );
      }
      lines.push('');
    }
    for (const note of r.notes) lines.push(`> ${note}`, '');
  }
  const path = join(RESULTS_DIR, 'summary.md');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const selected = args.names.length
    ? BENCHMARKS.filter((b) => args.names.includes(b.name))
    : BENCHMARKS.filter((b) => !b.optIn);
  await mkdir(RESULTS_DIR, { recursive: true });
  const environment = describeEnvironment();
  const profileDir = args.profile ? join(RESULTS_DIR, 'profiles') : undefined;
  const command = ['npm run bench --', ...process.argv.slice(2)].join(' ').replace(/ --$/, '');
  console.log(
    `engram bench: ${selected.map((b) => b.name).join(', ')} | scale ${args.scale} | ` +
      `Node ${environment.node} | ${environment.cpuModel} x${environment.cpus} | ` +
      `commit ${environment.commit?.slice(0, 12) ?? 'unknown'}${environment.dirty ? ' (dirty)' : ''} | ` +
      `tmp ${environment.tmpFilesystem ?? environment.tmpdir}`,
  );
  const printed: string[][] = [];
  const suiteStarted = performance.now();
  for (const bench of selected) {
    const startedAt = new Date();
    const started = performance.now();
    console.log(`\n== ${bench.name}: ${bench.description}`);
    const ctx: BenchContext = {
      scale: args.scale,
      reps: args.reps,
      profileDir,
      log: (message) => console.log(`  [${bench.name}] ${message}`),
    };
    const output = await bench.run(ctx);
    const rows = output.rows.map((row) => {
      const out: Row & { summary: RowSummary } = {
        ...row,
        engine: row.engine.map((v) => round(v, 5)),
        baseline: row.baseline.map((v) => round(v, 5)),
        summary: summariseRow(row),
      };
      if (row.details) {
        out.details = Object.fromEntries(
          Object.entries(row.details).map(([k, v]) => [k, v.map((x) => round(x, 5))]),
        );
      }
      return out;
    });
    const result: ResultFile = {
      benchmark: bench.name,
      description: bench.description,
      startedAt: startedAt.toISOString(),
      seconds: (performance.now() - started) / 1000,
      command,
      environment,
      scale: args.scale,
      profiled: args.profile,
      parameters: output.parameters,
      method: output.method,
      rows,
      notes: output.notes ?? [],
    };
    const path = join(RESULTS_DIR, `${bench.name}-${fileStamp(startedAt)}.json`);
    await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
    const mine = tableRows(
      bench.name,
      rows.map((r) => r.summary),
    );
    printed.push(...mine);
    console.log(`  -> ${relative(REPO_DIR, path)} (${round(result.seconds)} s)`);
  }
  const summary = await writeSummary();
  console.log(
    `\nSummary (${round((performance.now() - suiteStarted) / 1000)} s; medians; ${relative(REPO_DIR, summary)}):\n`,
  );
  printTable(printed);
}

const cleanUpAndExit = (code: number) => {
  void removeAllTempDirs().finally(() => process.exit(code));
};
process.once('SIGINT', () => cleanUpAndExit(130));
process.once('SIGTERM', () => cleanUpAndExit(143));

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await removeAllTempDirs();
}
