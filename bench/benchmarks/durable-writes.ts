/**
 * durable-writes: acknowledged remember() calls per second with durability 'fsync' (every ack
 * waits for the sync covering it: an O_DSYNC write of its group by default), client-supplied 384-d vectors, 1, 16 and 64 concurrent
 * writers (closed loop: each writer sends its next write when the previous one is acked), made
 * in process (engine) and over HTTP (POST /api/v1/memories/remember to the product's fastify
 * app, listening on 127.0.0.1 in the engine's child; the writers are keep-alive node:http
 * requests from a client process of their own, so the client's CPU is not on the server's event
 * loop, though it shares the machine's cores).
 *
 * Baseline: a raw loop, on the same temp filesystem, of pwrite(group) + fdatasync with records
 * of the engine's measured average on-disk size (WAL bytes / records) and the engine's measured
 * group size: 1 record per fdatasync for 1 writer; for 64 writers the engine's actual average
 * records per WAL sync, counted by a FileSystem wrapper passed to Registry.open (the
 * engine's own seam) over the measured window. Each repetition runs the engine and then the raw
 * loop, each in a fresh process, so their ratio is taken under the same conditions. The raw
 * child also runs the loop through fs/promises (reported, not the baseline): the gap between the
 * two is what any non-blocking Node server pays, the rest of the gap is the engine's.
 */
import { closeSync, constants, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry, nodeFileSystem, type FileSystem, type SpaceHandle } from '../../engine/index.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { EmbeddingGenerator, seededRandom, type Item } from '../data.ts';
import {
  makeTempDir,
  quantile,
  removeTempDir,
  runChild,
  sleep,
  type BenchContext,
  type BenchOutput,
  type Benchmark,
  type Row,
} from '../lib.ts';

const WRITER_COUNTS = [1, 16, 64] as const;
const VIAS = ['engine', 'http'] as const;
type Via = (typeof VIAS)[number];
const SEED = 7;

interface EngineParams {
  dataRoot: string;
  via: Via;
  writers: number;
  warmupMs: number;
  durationMs: number;
  poolSize: number;
}

export interface EngineWritesResult {
  writesPerSec: number;
  acked: number;
  seconds: number;
  walSyncs: number;
  /** Records acknowledged per WAL sync in the measured window. */
  avgGroup: number;
  /** Average bytes of one log record on disk, header included. */
  recordBytes: number;
  /** Median records per WAL sync, and the share of syncs that covered a single record. */
  groupMedian: number;
  singleRecordSyncsPct: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Log records durable but not yet applied to LMDB + HNSW when the window closed. */
  pendingApplyAtEnd: number;
}

/**
 * nodeFileSystem, counting the syncs of log segments and the bytes each one made durable: an
 * fdatasync (the engine writes one buffer per group, then syncs it), or under sync method dsync
 * each write to an O_DSYNC segment.
 */
export function countingFileSystem(base: FileSystem): {
  fs: FileSystem;
  walSyncs: () => number;
  groupBytes: number[];
} {
  let walSyncs = 0;
  let unsyncedBytes = 0;
  const groupBytes: number[] = [];
  const fs: FileSystem = {
    ...base,
    async openWritable(path, options) {
      const file = await base.openWritable(path, options);
      if (!path.endsWith('.wal')) return file;
      // An O_DSYNC segment (sync method dsync) is synced by each write: one group per write.
      const durableGroup = (bytes: number) => {
        walSyncs += 1;
        groupBytes.push(bytes);
      };
      return {
        write: async (data, position) => {
          const written = await file.write(data, position);
          if (options?.dsync) durableGroup(written);
          else unsyncedBytes += written;
          return written;
        },
        datasync: async () => {
          const bytes = unsyncedBytes;
          unsyncedBytes = 0;
          await file.datasync();
          durableGroup(bytes);
        },
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      };
    },
  };
  return { fs, walSyncs: () => walSyncs, groupBytes };
}

export async function engineWritesTask(p: EngineParams): Promise<EngineWritesResult> {
  const counting = countingFileSystem(nodeFileSystem);
  const registry = await Registry.open(
    { dataRoot: p.dataRoot, durability: 'fsync' },
    { fs: counting.fs },
  );
  await registry.createSpace('bench');
  const space = await registry.space('bench');
  const measured =
    p.via === 'http'
      ? await measureHttp(registry, p, counting.walSyncs)
      : await measureInProcess(space, p, counting.walSyncs);
  const windowGroups = counting.groupBytes.slice(measured.syncs0, measured.syncs0 + measured.syncs);
  const stats = await space.stats();
  const recordBytes = stats.walBytes / stats.lastLsn;
  const groups = windowGroups.map((bytes) => Math.round(bytes / recordBytes));
  return {
    writesPerSec: measured.acked / measured.seconds,
    acked: measured.acked,
    seconds: measured.seconds,
    walSyncs: measured.syncs,
    avgGroup: measured.acked / Math.max(1, measured.syncs),
    recordBytes,
    groupMedian: quantile(groups, 0.5),
    singleRecordSyncsPct: (100 * groups.filter((g) => g === 1).length) / Math.max(1, groups.length),
    latencyP50Ms: quantile(measured.latencies, 0.5),
    latencyP99Ms: quantile(measured.latencies, 0.99),
    pendingApplyAtEnd: stats.pendingApply,
  };
}

interface Window {
  acked: number;
  seconds: number;
  latencies: number[];
  /** WAL syncs before the window, and in it. */
  syncs0: number;
  syncs: number;
}

/** Closed-loop writers calling remember() in this process. */
async function measureInProcess(
  space: SpaceHandle,
  p: EngineParams,
  walSyncs: () => number,
): Promise<Window> {
  const pool = new EmbeddingGenerator({ seed: SEED }).take(p.poolSize);
  let syncs0 = 0;
  let syncs = 0;
  const run = await closedLoop(p, engineWriter(space, pool), {
    start: () => (syncs0 = walSyncs()),
    end: () => (syncs = walSyncs() - syncs0),
  });
  return { ...run, syncs0, syncs };
}

/**
 * `p.writers` closed-loop writers calling `write(i)` (each sends its next write when the previous
 * one is acked) for a warm-up, then acks and their latencies counted over `p.durationMs`;
 * `marks` run at the window's ends.
 */
async function closedLoop(
  p: { writers: number; warmupMs: number; durationMs: number },
  write: Write,
  marks: { start: () => void; end: () => void },
): Promise<{ acked: number; seconds: number; latencies: number[] }> {
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  let issued = 0;
  let acked = 0;
  const latencies: number[] = [];
  const writer = async (): Promise<void> => {
    while (phase !== 'stop') {
      const i = issued++;
      const started = performance.now();
      await write(i);
      if (phase === 'measure') {
        acked += 1;
        latencies.push(performance.now() - started);
      }
    }
  };
  const writers = Array.from({ length: p.writers }, writer);
  await sleep(p.warmupMs);
  phase = 'measure';
  const t0 = performance.now();
  marks.start();
  await sleep(p.durationMs);
  phase = 'stop';
  const t1 = performance.now();
  marks.end();
  const measured = acked;
  await Promise.all(writers);
  return { acked: measured, seconds: (t1 - t0) / 1000, latencies };
}

/**
 * Serves the product's HTTP app on 127.0.0.1:0 and runs the writers in a client process of
 * their own (httpClientTask). The client reports its window as wall-clock times; the WAL sync
 * count is sampled here every 2 ms, so the window's syncs are those between the samples nearest
 * its ends.
 */
async function measureHttp(
  registry: Registry,
  p: EngineParams,
  walSyncs: () => number,
): Promise<Window> {
  const app = buildHttpApp({ engine: registry, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const samples: Array<{ at: number; syncs: number }> = [];
  const sampler = setInterval(() => samples.push({ at: Date.now(), syncs: walSyncs() }), 2);
  let client: HttpClientResult;
  try {
    client = await runChild<HttpClientResult>(
      'durable-writes:http-client',
      {
        port: address.port,
        writers: p.writers,
        warmupMs: p.warmupMs,
        durationMs: p.durationMs,
        poolSize: p.poolSize,
      },
      { profileDir: undefined, timeoutMs: 120_000 + 4 * p.durationMs },
    );
  } finally {
    clearInterval(sampler);
  }
  const at = (time: number) =>
    samples.reduce((best, s) => (Math.abs(s.at - time) < Math.abs(best.at - time) ? s : best))
      .syncs;
  const syncs0 = at(client.windowStart);
  return {
    acked: client.acked,
    seconds: client.seconds,
    latencies: client.latencies,
    syncs0,
    syncs: at(client.windowEnd) - syncs0,
  };
}

export interface HttpClientResult {
  acked: number;
  seconds: number;
  latencies: number[];
  /** The measured window, as Date.now() times. */
  windowStart: number;
  windowEnd: number;
}

/**
 * The HTTP writers: `writers` closed-loop POSTs of {content, embedding} over keep-alive
 * connections (one per writer), counting 201s over the window after a warm-up.
 */
export async function httpClientTask(p: {
  port: number;
  writers: number;
  warmupMs: number;
  durationMs: number;
  poolSize: number;
}): Promise<HttpClientResult> {
  const pool = new EmbeddingGenerator({ seed: SEED }).take(p.poolSize);
  const bodies = pool.map((item) =>
    Buffer.from(JSON.stringify({ content: item.content, embedding: Array.from(item.vector) })),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: p.writers });
  const post = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: p.port,
          path: '/api/v1/memories/remember',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'x-memory-space': 'bench',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 201
              ? resolve()
              : reject(new Error(`remember answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let windowStart = 0;
  let windowEnd = 0;
  const run = await closedLoop(p, (i) => post(bodies[i % bodies.length]!), {
    start: () => (windowStart = Date.now()),
    end: () => (windowEnd = Date.now()),
  });
  agent.destroy();
  return { ...run, windowStart, windowEnd };
}

type Write = (i: number) => Promise<void>;

function engineWriter(space: SpaceHandle, pool: readonly Item[]): Write {
  return async (i) => {
    const item = pool[i % pool.length]!;
    await space.remember({ id: `m${i}`, content: item.content, vector: item.vector });
  };
}

interface RawParams {
  dir: string;
  recordBytes: number;
  groupRecords: number;
  warmupMs: number;
  durationMs: number;
}

export interface RawWritesResult {
  /** Synchronous pwrite + fdatasync: the disk's pace, the baseline. */
  writesPerSec: number;
  records: number;
  seconds: number;
  /** The same loop through fs/promises (libuv thread pool), as the engine must do it. */
  asyncWritesPerSec: number;
  /**
   * Synchronous pwrite of each group to a file opened with O_DSYNC, no fdatasync: how the engine
   * syncs its log by default (sync method dsync), for reference; the baseline stays the issue's
   * append+fdatasync loop.
   */
  dsyncWritesPerSec: number;
}

/**
 * pwrite(group of records) + fdatasync, appending to one file: first synchronously (the disk's
 * pace: the baseline), then through fs/promises, which is how a server that must not block its
 * event loop has to do it (informational: it separates Node's async I/O cost from the engine's).
 */
export async function rawWritesTask(p: RawParams): Promise<RawWritesResult> {
  const random = seededRandom(SEED);
  const group = Buffer.alloc(p.recordBytes * p.groupRecords);
  for (let i = 0; i < group.length; i++) group[i] = Math.floor(random() * 256);

  const fd = openSync(join(p.dir, 'raw-sync.log'), 'w');
  let position = 0;
  const writeGroup = () => {
    let done = 0;
    while (done < group.length) {
      done += writeSync(fd, group, done, group.length - done, position + done);
    }
    position += group.length;
    fdatasyncSync(fd);
  };
  let sync: { records: number; seconds: number };
  try {
    const warmEnd = performance.now() + p.warmupMs;
    while (performance.now() < warmEnd) writeGroup();
    let groups = 0;
    const t0 = performance.now();
    const end = t0 + p.durationMs;
    let now = t0;
    while (now < end) {
      writeGroup();
      groups += 1;
      now = performance.now();
    }
    sync = { records: groups * p.groupRecords, seconds: (now - t0) / 1000 };
  } finally {
    closeSync(fd);
  }

  const handle = await open(join(p.dir, 'raw-async.log'), 'w');
  let asyncRate: number;
  try {
    let pos = 0;
    const writeGroupAsync = async () => {
      let done = 0;
      while (done < group.length) {
        const { bytesWritten } = await handle.write(group, done, group.length - done, pos + done);
        done += bytesWritten;
      }
      pos += group.length;
      await handle.datasync();
    };
    const warmEnd = performance.now() + p.warmupMs / 2;
    while (performance.now() < warmEnd) await writeGroupAsync();
    let groups = 0;
    const t0 = performance.now();
    const end = t0 + p.durationMs / 2; // informational only: a shorter window
    let now = t0;
    while (now < end) {
      await writeGroupAsync();
      groups += 1;
      now = performance.now();
    }
    asyncRate = (groups * p.groupRecords) / ((now - t0) / 1000);
  } finally {
    await handle.close();
  }
  const dsyncFd = openSync(join(p.dir, 'raw-dsync.log'), 'w', 0o644);
  closeSync(dsyncFd);
  const fd2 = openSync(join(p.dir, 'raw-dsync.log'), constants.O_WRONLY | constants.O_DSYNC);
  let dsyncRate: number;
  try {
    let pos = 0;
    let groups = 0;
    const t0 = performance.now();
    const end = t0 + p.durationMs / 2; // informational only: a shorter window
    let now = t0;
    while (now < end) {
      let done = 0;
      while (done < group.length) {
        done += writeSync(fd2, group, done, group.length - done, pos + done);
      }
      pos += group.length;
      groups += 1;
      now = performance.now();
    }
    dsyncRate = (groups * p.groupRecords) / ((now - t0) / 1000);
  } finally {
    closeSync(fd2);
  }
  return {
    writesPerSec: sync.records / sync.seconds,
    records: sync.records,
    seconds: sync.seconds,
    asyncWritesPerSec: asyncRate,
    dsyncWritesPerSec: dsyncRate,
  };
}

export const durableWrites: Benchmark = {
  name: 'durable-writes',
  description: "durable remember/s (durability 'fsync', 384-d) vs raw append+fdatasync",
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const reps = ctx.reps ?? 3;
    const warmupMs = 500;
    const durationMs = Math.round(2000 * ctx.scale);
    const poolSize = 2048;
    const rows = new Map<string, Row>();
    for (const [via, writers] of VIAS.flatMap((v) => WRITER_COUNTS.map((w) => [v, w] as const))) {
      rows.set(`${via}:${writers}`, {
        case: `${via === 'http' ? 'HTTP, ' : ''}${writers} writer${writers === 1 ? '' : 's'}`,
        unit: 'writes/s',
        higherIsBetter: true,
        engineLabel:
          via === 'http' ? 'HTTP POST /memories/remember (fsync)' : 'engine remember (fsync)',
        baselineLabel:
          writers === 1 ? 'raw pwrite+fdatasync, 1/sync' : 'raw pwrite+fdatasync, engine group',
        engine: [],
        baseline: [],
        target: { on: 'ratio', op: '>=', value: 0.5 },
        details: {
          avgGroup: [],
          groupMedian: [],
          singleRecordSyncsPct: [],
          recordBytes: [],
          rawGroup: [],
          rawAsyncWritesPerSec: [],
          rawDsyncWritesPerSec: [],
          latencyP50Ms: [],
          latencyP99Ms: [],
          pendingApplyAtEnd: [],
        },
      });
    }
    for (let rep = 0; rep < reps; rep++) {
      for (const [key, row] of rows) {
        const [via, count] = key.split(':') as [Via, string];
        const writers = Number(count);
        const dataRoot = await makeTempDir('writes');
        let engine: EngineWritesResult;
        try {
          engine = await runChild<EngineWritesResult>(
            'durable-writes:engine',
            { dataRoot, via, writers, warmupMs, durationMs, poolSize },
            { profileDir: ctx.profileDir, timeoutMs: 120_000 + 4 * durationMs },
          );
        } finally {
          await removeTempDir(dataRoot);
        }
        const groupRecords = writers === 1 ? 1 : Math.max(1, Math.round(engine.avgGroup));
        const recordBytes = Math.round(engine.recordBytes);
        const dir = await makeTempDir('raw-writes');
        let raw: RawWritesResult;
        try {
          raw = await runChild<RawWritesResult>(
            'durable-writes:raw',
            { dir, recordBytes, groupRecords, warmupMs, durationMs },
            { profileDir: ctx.profileDir, timeoutMs: 120_000 + 6 * durationMs },
          );
        } finally {
          await removeTempDir(dir);
        }
        row.engine.push(engine.writesPerSec);
        row.baseline.push(raw.writesPerSec);
        const d = row.details!;
        d.avgGroup!.push(engine.avgGroup);
        d.groupMedian!.push(engine.groupMedian);
        d.singleRecordSyncsPct!.push(engine.singleRecordSyncsPct);
        d.recordBytes!.push(engine.recordBytes);
        d.rawGroup!.push(groupRecords);
        d.rawAsyncWritesPerSec!.push(raw.asyncWritesPerSec);
        d.rawDsyncWritesPerSec!.push(raw.dsyncWritesPerSec);
        d.latencyP50Ms!.push(engine.latencyP50Ms);
        d.latencyP99Ms!.push(engine.latencyP99Ms);
        d.pendingApplyAtEnd!.push(engine.pendingApplyAtEnd);
        ctx.log(
          `rep ${rep + 1}/${reps} ${via} ${writers} writer(s): engine ${Math.round(engine.writesPerSec)}/s ` +
            `(group avg ${engine.avgGroup.toFixed(1)} median ${engine.groupMedian}, ` +
            `${Math.round(engine.singleRecordSyncsPct)}% 1-record syncs, ${Math.round(engine.recordBytes)} B/record, ` +
            `p99 ${engine.latencyP99Ms.toFixed(1)} ms, backlog ${engine.pendingApplyAtEnd}), ` +
            `raw ${Math.round(raw.writesPerSec)}/s (group ${groupRecords}; async ${Math.round(raw.asyncWritesPerSec)}/s, O_DSYNC ${Math.round(raw.dsyncWritesPerSec)}/s)`,
        );
      }
    }
    return {
      parameters: {
        writers: [...WRITER_COUNTS],
        via: [...VIAS],
        repetitions: reps,
        warmupMs,
        durationMs,
        dimension: 384,
        distinctItems: poolSize,
        seed: SEED,
        engineOptions: { durability: 'fsync' },
      },
      method: [
        'Each repetition: a fresh process and data root; N closed-loop writers call remember() with client vectors (engine), or, from a client process of their own, POST the same {content, embedding} over N keep-alive node:http connections to the HTTP app served by the engine process on 127.0.0.1 (HTTP), for a warm-up, then acks (201 responses) are counted over a fixed window.',
        "The engine's records per WAL fdatasync are counted through the FileSystem seam (Registry.open deps.fs); its record size is WAL bytes / records.",
        'Baseline: a fresh process doing synchronous pwrite+fdatasync appends of records of that size, 1 per sync (1 writer) or the measured engine group size (16 and 64 writers), on the same temp filesystem. The same loop through fs/promises is reported as rawAsyncWritesPerSec, and a synchronous loop of O_DSYNC writes without fdatasync (how the engine syncs its log on Linux by default) as rawDsyncWritesPerSec; neither is the baseline.',
        'Ratio = engine/raw per repetition; the figure is the median over repetitions.',
      ],
      rows: [...rows.values()],
    };
  },
};
