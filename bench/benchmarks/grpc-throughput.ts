/**
 * grpc-throughput: StreamingRemember messages/s and unary Remember calls/s through the gRPC
 * front end, against a bare grpc-js echo server measured in the same run.
 *
 * Each repetition starts three server processes in turn (grpc-server-child.ts; the order
 * rotates between repetitions): the engine with durability 'fsync' (the default: a message is
 * acknowledged after the fdatasync that covers it), the engine with durability 'none' (the
 * front end and engine without the disk), and the echo server (same proto, same decoding,
 * answers at once). Against each, from this process, with the product's client
 * (client/grpc-client.ts) and 384-d client vectors with ~100-character contents:
 *
 * - StreamingRemember: one stream, a writer sending as fast as back-pressure lets it, a reader
 *   counting acknowledgements; acknowledgements counted over a fixed window after a warm-up;
 * - unary Remember: 64 closed-loop callers on one channel; calls counted the same way.
 *
 * The figure is the median over repetitions; the ratio is engine / echo per repetition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GrpcClient } from '../../client/grpc-client.ts';
import type { DurabilityMode } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  makeTempDir,
  quantile,
  REPO_DIR,
  removeTempDir,
  sleep,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
  type Row,
} from '../lib.ts';
import { BENCH_DIMENSION, BENCH_SPACE } from './grpc-server-child.ts';

const CHILD = fileURLToPath(new URL('./grpc-server-child.ts', import.meta.url));
const SEED = 31;
const POOL = 4096;
const UNARY_CALLERS = 64;
const READY_TIMEOUT_MS = 60_000;

type Target = { kind: 'engine'; durability: DurabilityMode } | { kind: 'echo' };

interface Measured {
  streamPerSec: number;
  unaryPerSec: number;
  unaryP50Ms: number;
  unaryP99Ms: number;
}

type Phase = 'warmup' | 'measure' | 'stop';

interface Window {
  warmupMs: number;
  durationMs: number;
}

async function startChild(
  target: Target,
): Promise<{ child: ChildProcess; port: number; dataRoot?: string }> {
  const dataRoot = target.kind === 'engine' ? await makeTempDir('grpc') : undefined;
  const params = target.kind === 'engine' ? { dataRoot, durability: target.durability } : {};
  const child = spawn(
    process.execPath,
    [...process.execArgv, CHILD, target.kind, JSON.stringify(params)],
    { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server child not ready:\n${output}`)),
      READY_TIMEOUT_MS,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /ready (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server child exited (code ${code}, signal ${signal}):\n${output}`));
    });
  });
  return dataRoot === undefined ? { child, port } : { child, port, dataRoot };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL'); // our own child, by its handle: no drain, nothing after the window counts
  await exited;
}

/** One stream, a greedy writer, acknowledgements counted over the window. */
async function measureStream(
  client: GrpcClient,
  pool: ReturnType<EmbeddingGenerator['take']>,
  w: Window,
  tag: string,
): Promise<number> {
  const stream = client.streamingRemember({ space: BENCH_SPACE });
  // An object, not a `let`: the async IIFEs below would otherwise be narrowed to 'warmup'.
  const run: { phase: Phase } = { phase: 'warmup' };
  let acked = 0;
  const reader = (async () => {
    for await (const ack of stream) {
      if (ack.error) throw new Error(`stream ack failed: ${ack.error.code} ${ack.error.message}`);
      if (run.phase === 'measure') acked += 1;
    }
  })();
  const writer = (async () => {
    for (let i = 0; run.phase !== 'stop'; i++) {
      const item = pool[i % pool.length]!;
      const id = `${tag}-s${i}`;
      await stream.send({
        correlation_id: id,
        memory: { id, content: item.content, embedding: Array.from(item.vector) },
      });
    }
    stream.end();
  })();
  await sleep(w.warmupMs);
  run.phase = 'measure';
  const t0 = performance.now();
  await sleep(w.durationMs);
  const counted = acked;
  const seconds = (performance.now() - t0) / 1000;
  run.phase = 'stop';
  await writer;
  await reader;
  return counted / seconds;
}

/** UNARY_CALLERS closed-loop callers, calls counted over the window. */
async function measureUnary(
  client: GrpcClient,
  pool: ReturnType<EmbeddingGenerator['take']>,
  w: Window,
  tag: string,
): Promise<{ perSec: number; latencies: number[] }> {
  let phase: Phase = 'warmup';
  let next = 0;
  let done = 0;
  const latencies: number[] = [];
  const caller = async (): Promise<void> => {
    while (phase !== 'stop') {
      const i = next++;
      const item = pool[i % pool.length]!;
      const started = performance.now();
      await client.remember({
        memory_space_id: BENCH_SPACE,
        id: `${tag}-u${i}`,
        content: item.content,
        embedding: Array.from(item.vector),
      });
      if (phase === 'measure') {
        done += 1;
        latencies.push(performance.now() - started);
      }
    }
  };
  const callers = Array.from({ length: UNARY_CALLERS }, caller);
  await sleep(w.warmupMs);
  phase = 'measure';
  const t0 = performance.now();
  await sleep(w.durationMs);
  const counted = done;
  const seconds = (performance.now() - t0) / 1000;
  phase = 'stop';
  await Promise.all(callers);
  return { perSec: counted / seconds, latencies };
}

/**
 * Waits until the engine has applied everything to LMDB and the index, so the backlog of one
 * phase does not eat into the next one's window (CreateSpace of an existing space answers its
 * stats).
 */
async function caughtUp(client: GrpcClient): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { space } = await client.createSpace({ memory_space_id: BENCH_SPACE });
    if ((space?.pending_apply ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error('the engine did not catch up within 120 s');
    await sleep(100);
  }
}

async function measure(
  target: Target,
  pool: ReturnType<EmbeddingGenerator['take']>,
  w: Window,
): Promise<Measured> {
  const { child, port, dataRoot } = await startChild(target);
  const client = new GrpcClient({ target: `127.0.0.1:${port}` });
  try {
    await client.waitForReady(10_000);
    const streamPerSec = await measureStream(client, pool, w, 'a');
    if (target.kind === 'engine') await caughtUp(client);
    const unary = await measureUnary(client, pool, w, 'b');
    return {
      streamPerSec,
      unaryPerSec: unary.perSec,
      unaryP50Ms: quantile(unary.latencies, 0.5),
      unaryP99Ms: quantile(unary.latencies, 0.99),
    };
  } finally {
    client.close();
    await stopChild(child);
    if (dataRoot) await removeTempDir(dataRoot);
  }
}

const ENGINE_TARGETS: ReadonlyArray<{ kind: 'engine'; durability: DurabilityMode }> = [
  { kind: 'engine', durability: 'fsync' },
  { kind: 'engine', durability: 'none' },
];

export const grpcThroughput: Benchmark = {
  name: 'grpc-throughput',
  description: 'gRPC StreamingRemember msgs/s and unary Remember calls/s vs a bare grpc-js echo',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 5;
    const w: Window = { warmupMs: 500, durationMs: Math.round(2000 * ctx.scale) };
    const pool = new EmbeddingGenerator({ seed: SEED, dimension: BENCH_DIMENSION }).take(POOL);
    const rows = new Map<string, Row>();
    const row = (key: string, init: () => Row): Row => {
      let r = rows.get(key);
      if (!r) rows.set(key, (r = init()));
      return r;
    };
    for (let rep = 0; rep < reps; rep++) {
      const targets: Target[] = [...ENGINE_TARGETS, { kind: 'echo' }];
      // Rotate the order, so no target always runs first (or last) on a warming machine.
      for (let r = 0; r < rep % targets.length; r++) targets.push(targets.shift()!);
      const results = new Map<string, Measured>();
      for (const target of targets) {
        const key = target.kind === 'echo' ? 'echo' : target.durability;
        results.set(key, await measure(target, pool, w));
      }
      const echo = results.get('echo')!;
      for (const { durability } of ENGINE_TARGETS) {
        const engine = results.get(durability)!;
        const stream = row(`stream-${durability}`, () => ({
          case: `StreamingRemember, 1 stream, durability ${durability}`,
          unit: 'messages/s',
          higherIsBetter: true,
          engineLabel: `engram StreamingRemember (${durability})`,
          baselineLabel: 'bare grpc-js echo stream',
          engine: [],
          baseline: [],
        }));
        stream.engine.push(engine.streamPerSec);
        stream.baseline.push(echo.streamPerSec);
        const unary = row(`unary-${durability}`, () => ({
          case: `unary Remember, ${UNARY_CALLERS} in flight, durability ${durability}`,
          unit: 'calls/s',
          higherIsBetter: true,
          engineLabel: `engram Remember (${durability})`,
          baselineLabel: 'bare grpc-js echo unary',
          engine: [],
          baseline: [],
          details: { engineP50Ms: [], engineP99Ms: [], echoP50Ms: [], echoP99Ms: [] },
        }));
        unary.engine.push(engine.unaryPerSec);
        unary.baseline.push(echo.unaryPerSec);
        unary.details!.engineP50Ms!.push(engine.unaryP50Ms);
        unary.details!.engineP99Ms!.push(engine.unaryP99Ms);
        unary.details!.echoP50Ms!.push(echo.unaryP50Ms);
        unary.details!.echoP99Ms!.push(echo.unaryP99Ms);
      }
      ctx.log(
        `rep ${rep + 1}/${reps}: stream fsync ${Math.round(results.get('fsync')!.streamPerSec)}/s, ` +
          `none ${Math.round(results.get('none')!.streamPerSec)}/s, echo ${Math.round(echo.streamPerSec)}/s; ` +
          `unary fsync ${Math.round(results.get('fsync')!.unaryPerSec)}/s, ` +
          `none ${Math.round(results.get('none')!.unaryPerSec)}/s, echo ${Math.round(echo.unaryPerSec)}/s`,
      );
    }
    return {
      parameters: {
        repetitions: reps,
        warmupMs: w.warmupMs,
        durationMs: w.durationMs,
        dimension: BENCH_DIMENSION,
        distinctItems: POOL,
        unaryCallers: UNARY_CALLERS,
        streams: 1,
        maxInFlightPerStream: 64,
        seed: SEED,
      },
      method: [
        'Each repetition starts, in rotating order, three server processes: the engram gRPC server with durability fsync (acknowledged after fdatasync), the same with durability none, and a bare grpc-js echo server with the same service definition that answers each request at once with an acknowledgement of the same shape.',
        'The client is this process, using client/grpc-client.ts: 384-d client vectors and ~100-character contents, no server-side embedding.',
        "StreamingRemember: one stream, a writer sending as fast as back-pressure lets it, acknowledgements counted over a fixed window after a warm-up. Unary Remember: 64 closed-loop callers on one channel, calls counted the same way, after the engine has applied the stream phase's backlog.",
        'Ratio = engine / echo per repetition; the figure is the median over repetitions.',
      ],
      rows: [...rows.values()],
      notes: [
        "The machine has 2 cores: client and server share them, as do the engine's writer and its background applier (LMDB + HNSW). The fsync rows are bound by the disk (see durable-writes), the none rows by CPU.",
      ],
    };
  },
};
