/**
 * The server killed (SIGKILL, by its pid) in the middle of a StreamingRemember: every message it
 * acknowledged is found after a restart, with its content.
 *
 * Each round forks test/fixtures/grpc-server-process.ts (startServer, durability fsync) on the
 * same data root, streams memories into it as fast as back-pressure allows while reading the
 * acknowledgements, and kills the process once a random number of new acknowledgements arrived
 * (so the kill lands with writes in flight: read, in the log, fsynced but not yet answered).
 * After the last round a fresh server process is started on the data root and every
 * acknowledged memory is read back through gRPC. Memories whose acknowledgement never arrived
 * may or may not exist; none may exist that was never sent.
 *
 * ENGRAM_CRASH_SEED replays a run's kill points; ENGRAM_GRPC_CRASH_ROUNDS sets the rounds
 * (default 3).
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { GrpcClient, type RememberAck } from '../../client/grpc-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { seededRandom } from '../helpers/vectors.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/grpc-server-process.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const SPACE = 'grpc-crash';

interface Server {
  child: ChildProcess;
  grpcUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

async function startFixture(dataRoot: string): Promise<Server> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the fixture is a plain program, not a test file
  const child = fork(FIXTURE, [dataRoot], {
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const grpcUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`fixture not ready after ${READY_TIMEOUT_MS} ms; stderr:\n${stderr}`)),
      READY_TIMEOUT_MS,
    );
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('ready '));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line.slice('ready '.length)) as { grpcUrl: string }).grpcUrl);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
  });
  return { child, grpcUrl, exited, stderr: () => stderr };
}

/** SIGKILL by pid (ours, just forked), then wait until it is reaped. */
async function kill(server: Server): Promise<void> {
  process.kill(server.child.pid!, 'SIGKILL');
  const { signal } = await server.exited;
  assert.equal(signal, 'SIGKILL', `the fixture ended on its own; stderr:\n${server.stderr()}`);
  children.delete(server.child);
}

interface Round {
  acked: Map<string, { content: string; ack: RememberAck }>;
  sent: Set<string>;
}

/** Streams into a fresh server until `killAfter` acknowledgements arrived, then kills it. */
async function runRound(dataRoot: string, round: number, killAfter: number): Promise<Round> {
  const server = await startFixture(dataRoot);
  const client = new GrpcClient({ target: server.grpcUrl });
  const stream = client.streamingRemember({ space: SPACE });
  const result: Round = { acked: new Map(), sent: new Set() };
  const contents = new Map<string, string>();
  let killing: Promise<void> | undefined;
  const reader = (async () => {
    try {
      for await (const ack of stream) {
        assert.equal(ack.error, undefined, JSON.stringify(ack.error));
        const id = ack.correlation_id!;
        assert.equal(ack.stored?.memory_id, id);
        result.acked.set(id, { content: contents.get(id)!, ack: ack.stored });
        if (result.acked.size >= killAfter) killing ??= kill(server);
      }
    } catch {
      // The kill ends the stream with an error: expected.
    }
  })();
  const writer = (async () => {
    try {
      for (let i = 0; !killing; i++) {
        const id = `r${round}-m${i}`;
        const content = `round ${round} memory ${i} ${'ä'.repeat(i % 50)}`;
        contents.set(id, content);
        result.sent.add(id);
        await stream.send({ correlation_id: id, memory: { id, content } });
      }
    } catch {
      // Writes fail once the server is gone.
    }
  })();
  await reader;
  killing ??= kill(server); // the stream ended early: still kill, and let the checks fail
  await killing;
  await writer;
  client.close();
  assert.ok(
    result.acked.size >= killAfter,
    `round ${round}: ${result.acked.size} acknowledgements before the stream ended, expected ${killAfter}; stderr:\n${server.stderr()}`,
  );
  assert.ok(result.sent.size > result.acked.size, 'the kill landed with writes in flight');
  return result;
}

test('every message a killed server acknowledged on StreamingRemember is found after restart', async () => {
  const seed = Number(process.env.ENGRAM_CRASH_SEED ?? randomInt(2 ** 31));
  const rounds = Number(process.env.ENGRAM_GRPC_CRASH_ROUNDS ?? 3);
  const random = seededRandom(seed);
  process.stdout.write(`# gRPC crash seed ${seed} (ENGRAM_CRASH_SEED=${seed} replays it)\n`);
  const dataRoot = await tempDir();
  const acked = new Map<string, string>();
  const sent = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    const killAfter = 100 + Math.floor(random() * 900);
    const result = await runRound(dataRoot, round, killAfter);
    for (const [id, { content }] of result.acked) acked.set(id, content);
    for (const id of result.sent) sent.add(id);
  }

  const server = await startFixture(dataRoot);
  const client = new GrpcClient({ target: server.grpcUrl });
  try {
    const missing: string[] = [];
    const ids = [...acked.keys()];
    // 32 reads in flight at a time.
    for (let start = 0; start < ids.length; start += 32) {
      await Promise.all(
        ids.slice(start, start + 32).map(async (id) => {
          try {
            const { memory } = await client.getMemory({ memory_id: id }, { space: SPACE });
            assert.equal(memory?.content, acked.get(id), `content of ${id}`);
          } catch (error) {
            if (error instanceof assert.AssertionError) throw error;
            missing.push(`${id}: ${(error as Error).message}`);
          }
        }),
      );
    }
    assert.deepEqual(missing, [], `acknowledged memories lost after the kill (seed ${seed})`);
    const [summary] = (await client.listSpaces({}, { space: SPACE })).spaces!;
    assert.ok(summary!.memories! >= acked.size);
    assert.ok(summary!.memories! <= sent.size, 'no memory exists that was never sent');
  } finally {
    client.close();
    await kill(server);
  }
});
