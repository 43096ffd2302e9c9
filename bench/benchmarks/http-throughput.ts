/**
 * http-throughput: requests/s through the HTTP front end (fastify, server/http-app.ts), each
 * against a baseline measured in the same run:
 *
 * - recall: POST /api/v1/memories/recall with a 384-d client vector and k = 10 against a space
 *   pre-filled with N (10,000 at scale 1) memories of 384-d client vectors (no embedder, so the
 *   mode is similarity), from autocannon with 10 connections, versus the same recalls made in
 *   process (10 closed-loop callers of handle.recall, the same query list in the same order,
 *   k = 10) in the same server process on the same open space. Target: HTTP / in-process
 *   >= 0.8.
 * - remember: POST /api/v1/memories/remember of a small set of bodies (~100-character content
 *   and a 384-d vector each, no id) from autocannon with 10 connections, to the engine with
 *   durability fsync (the default) and with durability none, versus a bare fastify route that
 *   takes the same body and answers 201 with a body of the same shape at once.
 *
 * The data root is filled once per run (http-server-child.ts "prefill") and copied afresh for
 * each server process. Each server runs in its own child process; autocannon runs in this one,
 * so the load generator never shares the server's event loop (it does share the 2 cores). Each
 * repetition starts the three servers (engine none, engine fsync, bare) in rotating order. In
 * the "none" engine the recall windows run A B B A (half a window of one side, a whole window of
 * the other, the other half of the first), so a drift of the machine's speed weighs on both
 * sides alike; which side is outside alternates between repetitions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { DurabilityMode } from '../../engine/index.ts';
import { EmbeddingGenerator } from '../data.ts';
import {
  makeTempDir,
  REPO_DIR,
  removeTempDir,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
  type Row,
} from '../lib.ts';
import {
  HTTP_BENCH_DIMENSION,
  HTTP_BENCH_SPACE,
  type ChildMessage,
  type EngineParams,
  type PrefillParams,
  type RecallRequest,
} from './http-server-child.ts';

const CHILD = fileURLToPath(new URL('./http-server-child.ts', import.meta.url));
const SEED = 53;
const REMEMBER_SEED = 59;
const CONNECTIONS = 10;
const K = 10;
/** Distinct recall queries: drawn from the same topic clusters as the data, not stored. */
const QUERIES = 256;
/** Distinct remember bodies, cycled by every connection. */
const REMEMBER_BODIES = 16;
const READY_TIMEOUT_MS = 120_000;
const RECALL_PATH = '/api/v1/memories/recall';
const REMEMBER_PATH = '/api/v1/memories/remember';
const HEADERS = { 'content-type': 'application/json', 'x-memory-space': HTTP_BENCH_SPACE };

type Kind = 'prefill' | 'engine' | 'bare';
type Server = { kind: 'engine'; durability: DurabilityMode } | { kind: 'bare' };

interface Window {
  warmupMs: number;
  recallMs: number;
  rememberMs: number;
}

interface Load {
  perSec: number;
  /** Requests (calls) counted, and the seconds they were counted over. */
  count: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

/** Two windows as one: counts and seconds added, percentiles a count-weighted mean. */
function combine(a: Load, b: Load): Load {
  const count = a.count + b.count;
  const seconds = a.seconds + b.seconds;
  const mean = (x: number, y: number) => (x * a.count + y * b.count) / Math.max(1, count);
  return {
    perSec: count / seconds,
    count,
    seconds,
    p50Ms: mean(a.p50Ms, b.p50Ms),
    p99Ms: mean(a.p99Ms, b.p99Ms),
  };
}

interface Child {
  process: ChildProcess;
  /** The next message of the given type (a 'failed' message or an exit rejects). */
  next<T extends ChildMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<ChildMessage, { type: T }>>;
}

/** Set from the context by run(): children then profile themselves (see stopChild). */
let profileDir: string | undefined;

function startChild(kind: Kind, params: object): Child {
  const child = spawn(
    process.execPath,
    [...process.execArgv, CHILD, kind, JSON.stringify(params)],
    {
      cwd: REPO_DIR,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      ...(profileDir ? { env: { ...process.env, ENGRAM_BENCH_PROFILE_DIR: profileDir } } : {}),
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const inbox: ChildMessage[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (message: ChildMessage) => {
    inbox.push(message);
    for (const wake of waiters.splice(0)) wake();
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `http server child (${kind}) exited (code ${code}, signal ${signal}):\n${output}`;
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    process: child,
    next: (type, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(`http server child (${kind}): no "${type}" in ${timeoutMs} ms\n${output}`),
          );
        }, timeoutMs);
        const check = () => {
          const i = inbox.findIndex((m) => m.type === type || m.type === 'failed');
          if (i !== -1) {
            const [message] = inbox.splice(i, 1);
            clearTimeout(timer);
            if (message!.type === 'failed') {
              reject(
                new Error(`http server child (${kind}) failed: ${message!.message}\n${output}`),
              );
            } else {
              resolve(message as Extract<ChildMessage, { type: typeof type }>);
            }
          } else if (exited !== undefined) {
            clearTimeout(timer);
            reject(new Error(exited));
          } else {
            waiters.push(check);
          }
        };
        check();
      }),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (profileDir) {
    child.disconnect(); // the child writes its profile, then kills itself
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    return;
  }
  child.kill('SIGKILL'); // our own child, by its handle: no drain, nothing after the window counts
  await exited;
}

/** One autocannon run: 10 connections, each cycling through `bodies` in order. */
async function cannon(
  port: number,
  path: string,
  bodies: readonly string[],
  ms: number,
  expectStatus: number,
): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: ms / 1000,
    method: 'POST',
    headers: HEADERS,
    requests: bodies.map((body) => ({ method: 'POST', path, body })),
  });
  const expected = result.statusCodeStats?.[`${expectStatus}`]?.count ?? 0;
  if (result.errors > 0 || result.non2xx > 0 || expected !== result['2xx']) {
    throw new Error(
      `autocannon ${path}: ${result.errors} errors, ${result.non2xx} non-2xx, ` +
        `${expected} of ${result['2xx']} 2xx were ${expectStatus}`,
    );
  }
  return {
    perSec: result['2xx'] / result.duration,
    count: result['2xx'],
    seconds: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/** A warm-up run, then the measured one. */
async function load(
  port: number,
  path: string,
  bodies: readonly string[],
  w: Window,
  ms: number,
  expectStatus: number,
): Promise<Load> {
  await cannon(port, path, bodies, w.warmupMs, expectStatus);
  return cannon(port, path, bodies, ms, expectStatus);
}

/** Ids of the hits of one HTTP recall (checked against the in-process ones). */
async function httpRecallIds(port: number, body: string): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${port}${RECALL_PATH}`, {
    method: 'POST',
    headers: HEADERS,
    body,
  });
  if (response.status !== 200) throw new Error(`recall answered ${response.status}`);
  const json = (await response.json()) as { memories: Array<{ id: string }> };
  return json.memories.map((m) => m.id);
}

interface EngineMeasured {
  recall?: { http: Load; inProcess: Load; httpFirst: boolean };
  remember: Load;
  openMs: number;
}

interface Data {
  template: string;
  queries: number[][];
  recallBodies: string[];
  rememberBodies: string[];
}

async function measureEngine(
  durability: DurabilityMode,
  withRecall: boolean,
  httpFirst: boolean,
  data: Data,
  w: Window,
): Promise<EngineMeasured> {
  const dataRoot = await makeTempDir('http');
  let child: Child | undefined;
  try {
    await cp(data.template, dataRoot, { recursive: true });
    const params: EngineParams = { dataRoot, durability };
    child = startChild('engine', params);
    const ready = await child.next('ready', READY_TIMEOUT_MS);
    const port = ready.port;
    let recall: EngineMeasured['recall'];
    if (withRecall) {
      const viaHttp = (ms: number) => load(port, RECALL_PATH, data.recallBodies, w, ms, 200);
      let firstIds: string[] = [];
      const inProcess = async (ms: number): Promise<Load> => {
        const request: RecallRequest = {
          type: 'recall',
          queries: data.queries,
          k: K,
          callers: CONNECTIONS,
          warmupMs: w.warmupMs,
          durationMs: ms,
        };
        child!.process.send(request);
        const r = await child!.next('recalled', READY_TIMEOUT_MS + 2 * ms);
        firstIds = r.firstIds;
        return r;
      };
      // A B B A: half a window of one, a whole window of the other, half of the first again, so
      // a drift of the machine's speed over the three weighs on both sides alike.
      const [outer, inner] = httpFirst ? [viaHttp, inProcess] : [inProcess, viaHttp];
      const half = Math.round(w.recallMs / 2);
      const before = await outer(half);
      const middle = await inner(w.recallMs);
      const outside = combine(before, await outer(w.recallMs - half));
      const [http, local] = httpFirst ? [outside, middle] : [middle, outside];
      // Same data, same query: the same hits either way.
      const ids = await httpRecallIds(port, data.recallBodies[0]!);
      if (ids.length !== K || ids.join() !== firstIds.join()) {
        throw new Error(`HTTP and in-process recall disagree: ${ids.join()} vs ${firstIds.join()}`);
      }
      recall = { http, inProcess: local, httpFirst };
    }
    const remember = await load(port, REMEMBER_PATH, data.rememberBodies, w, w.rememberMs, 201);
    return { ...(recall ? { recall } : {}), remember, openMs: ready.openMs ?? Number.NaN };
  } finally {
    if (child) await stopChild(child.process);
    await removeTempDir(dataRoot);
  }
}

async function measureBare(data: Data, w: Window): Promise<Load> {
  const child = startChild('bare', {});
  try {
    const { port } = await child.next('ready', READY_TIMEOUT_MS);
    return await load(port, REMEMBER_PATH, data.rememberBodies, w, w.rememberMs, 201);
  } finally {
    await stopChild(child.process);
  }
}

async function prefill(
  ctx: BenchContext,
  memories: number,
): Promise<{ template: string; queries: number[][] }> {
  const template = await makeTempDir('http-template');
  const params: PrefillParams = { dataRoot: template, count: memories, seed: SEED };
  const child = startChild('prefill', params);
  try {
    const done = await child.next('prefilled', 600_000);
    if (done.memories !== memories) {
      throw new Error(`prefill stored ${done.memories} memories, expected ${memories}`);
    }
    ctx.log(
      `prefilled ${memories} memories: written in ${Math.round(done.writeMs)} ms, ` +
        `applied and indexed ${Math.round(done.catchUpMs)} ms later`,
    );
  } finally {
    await stopChild(child.process);
  }
  // The items after the stored ones: same topic clusters, never stored.
  const generator = new EmbeddingGenerator({ seed: SEED, dimension: HTTP_BENCH_DIMENSION });
  generator.take(memories);
  const queries = generator.take(QUERIES).map((item) => Array.from(item.vector));
  return { template, queries };
}

const SERVERS: readonly Server[] = [
  { kind: 'engine', durability: 'none' },
  { kind: 'engine', durability: 'fsync' },
  { kind: 'bare' },
];

export const httpThroughput: Benchmark = {
  name: 'http-throughput',
  description: 'HTTP recall req/s vs in-process recall; HTTP remember req/s vs bare fastify',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 3;
    profileDir = ctx.profileDir;
    const memories = Math.round(10_000 * ctx.scale);
    const w: Window = {
      warmupMs: 1000,
      recallMs: Math.round(10_000 * ctx.scale),
      rememberMs: Math.round(5000 * ctx.scale),
    };
    const { template, queries } = await prefill(ctx, memories);
    const rememberItems = new EmbeddingGenerator({
      seed: REMEMBER_SEED,
      dimension: HTTP_BENCH_DIMENSION,
    }).take(REMEMBER_BODIES);
    const data: Data = {
      template,
      queries,
      recallBodies: queries.map((embedding) => JSON.stringify({ embedding, k: K })),
      rememberBodies: rememberItems.map((item) =>
        JSON.stringify({ content: item.content, embedding: Array.from(item.vector) }),
      ),
    };
    const recallRow: Row = {
      case: `recall k=${K}, ${memories} memories x ${HTTP_BENCH_DIMENSION}-d, ${CONNECTIONS} concurrent`,
      unit: 'requests/s',
      higherIsBetter: true,
      engineLabel: 'HTTP POST /memories/recall (autocannon)',
      baselineLabel: 'in-process handle.recall, same process and space',
      engine: [],
      baseline: [],
      target: { on: 'ratio', op: '>=', value: 0.8 },
      details: { httpP50Ms: [], httpP99Ms: [], inProcessCallP50Ms: [], inProcessCallP99Ms: [] },
    };
    const rememberRows = new Map<DurabilityMode, Row>();
    for (const durability of ['fsync', 'none'] as const) {
      rememberRows.set(durability, {
        case: `remember, ${CONNECTIONS} connections, durability ${durability}`,
        unit: 'requests/s',
        higherIsBetter: true,
        engineLabel: `HTTP POST /memories/remember (${durability})`,
        baselineLabel: 'bare fastify route answering 201',
        engine: [],
        baseline: [],
        details: { engineP50Ms: [], engineP99Ms: [], bareP50Ms: [], bareP99Ms: [] },
      });
    }
    const openMs: number[] = [];
    try {
      for (let rep = 0; rep < reps; rep++) {
        const servers = [...SERVERS];
        // Rotate the order, so no server always runs first (or last) on a warming machine.
        for (let r = 0; r < rep % servers.length; r++) servers.push(servers.shift()!);
        const httpFirst = rep % 2 === 0;
        const engines = new Map<DurabilityMode, EngineMeasured>();
        let bare: Load | undefined;
        for (const server of servers) {
          if (server.kind === 'bare') {
            bare = await measureBare(data, w);
          } else {
            const withRecall = server.durability === 'none';
            const m = await measureEngine(server.durability, withRecall, httpFirst, data, w);
            engines.set(server.durability, m);
            openMs.push(m.openMs);
          }
        }
        const { recall } = engines.get('none')!;
        recallRow.engine.push(recall!.http.perSec);
        recallRow.baseline.push(recall!.inProcess.perSec);
        const rd = recallRow.details!;
        rd.httpP50Ms!.push(recall!.http.p50Ms);
        rd.httpP99Ms!.push(recall!.http.p99Ms);
        rd.inProcessCallP50Ms!.push(recall!.inProcess.p50Ms);
        rd.inProcessCallP99Ms!.push(recall!.inProcess.p99Ms);
        for (const [durability, row] of rememberRows) {
          const engine = engines.get(durability)!.remember;
          row.engine.push(engine.perSec);
          row.baseline.push(bare!.perSec);
          const d = row.details!;
          d.engineP50Ms!.push(engine.p50Ms);
          d.engineP99Ms!.push(engine.p99Ms);
          d.bareP50Ms!.push(bare!.p50Ms);
          d.bareP99Ms!.push(bare!.p99Ms);
        }
        ctx.log(
          `rep ${rep + 1}/${reps}: recall HTTP ${Math.round(recall!.http.perSec)}/s, ` +
            `in-process ${Math.round(recall!.inProcess.perSec)}/s (${httpFirst ? 'HTTP' : 'in-process'} outside); ` +
            `remember fsync ${Math.round(engines.get('fsync')!.remember.perSec)}/s, ` +
            `none ${Math.round(engines.get('none')!.remember.perSec)}/s, bare ${Math.round(bare!.perSec)}/s`,
        );
      }
    } finally {
      await removeTempDir(template);
    }
    return {
      parameters: {
        repetitions: reps,
        memories,
        dimension: HTTP_BENCH_DIMENSION,
        k: K,
        connections: CONNECTIONS,
        inProcessCallers: CONNECTIONS,
        distinctQueries: QUERIES,
        distinctRememberBodies: REMEMBER_BODIES,
        warmupMs: w.warmupMs,
        recallWindowMs: w.recallMs,
        rememberWindowMs: w.rememberMs,
        recallBodyBytes: Math.round(
          data.recallBodies.reduce((s, b) => s + b.length, 0) / data.recallBodies.length,
        ),
        rememberBodyBytes: Math.round(
          data.rememberBodies.reduce((s, b) => s + b.length, 0) / data.rememberBodies.length,
        ),
        engineOpenMs: openMs.map(Math.round),
        seed: SEED,
        rememberSeed: REMEMBER_SEED,
        autocannon: { pipelining: 1, connections: CONNECTIONS },
      },
      method: [
        `Data: ${memories} memories with ${HTTP_BENCH_DIMENSION}-d client vectors (clustered, anisotropic, as sentence embeddings) and ~100-character contents, in a space without an embedder, written once (durability none), applied and indexed, the registry closed; each server process opens a fresh copy of that data root.`,
        `Recall: ${QUERIES} query vectors from the same clusters (not stored), k=${K}, mode similarity (the default for a vector). HTTP: autocannon in the benchmark process, ${CONNECTIONS} keep-alive connections, each POSTing {embedding, k} bodies in list order, against the product's HTTP app (buildHttpApp, logger off) in a child process with durability none. In-process: ${CONNECTIONS} closed-loop callers of handle.recall(query, { k }) with the same list in the same order, each yielding to the event loop (setImmediate) after each call so the engine's timers run as they do under HTTP, in that same child on the same open space (so same data, same warm state). Order A B B A: half a window of one side, a whole window of the other, the second half of the first (its two halves added up), the outside side alternating between repetitions; the top hits of the first query are checked to be the same both ways.`,
        `Remember: autocannon, ${CONNECTIONS} connections cycling through ${REMEMBER_BODIES} bodies {content, embedding} (no id, so every request stores a new memory) into the pre-filled space, against the engine with durability fsync (acknowledged after fdatasync) and with durability none, each in a fresh child; baseline: a bare fastify app in a child process (same body limit and JSON parser, no schema, no engine) whose route answers 201 with a body of the engine's shape.`,
        `Every load run (and every in-process window) follows a ${w.warmupMs} ms warm-up; requests/s = 2xx responses (completed calls) / window, any error or other status failing the benchmark; latency details are autocannon's percentiles and the in-process ones (count-weighted mean over the two halves where split). Ratio = engine / baseline per repetition; figures are medians over repetitions; the three server processes start in rotating order.`,
      ],
      rows: [recallRow, ...rememberRows.values()],
      notes: [
        "The machine has 2 cores. autocannon shares them with the HTTP server, while the in-process baseline has them to itself: the recall ratio includes the load generator's CPU, which a remote client would not cost the server. The engine's background applier (LMDB + HNSW inserts of the remembered memories) also competes for them in the remember windows.",
        'The HTTP app runs with logger: false; the product server (server/main.ts) logs through pino, which is not measured here.',
        "Latency details are not like for like: autocannon's include the wait behind the other connections' requests in the server, while an in-process caller's time is its call alone (the callers take turns on the event loop, and a recall does no I/O).",
      ],
    };
  },
};
