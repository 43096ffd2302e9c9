import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.ts';

const BIN = fileURLToPath(new URL('../../bin/engram.js', import.meta.url));

/** Starts `engram start` on 127.0.0.1 with a free port; resolves with its URL once it listens. */
async function startServer(dataRoot: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'start',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--grpc-port',
      '0',
      '--data-root',
      dataRoot,
      '--log-level',
      'warn',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM'); // our own child, by its handle
  const [code] = (await exited) as [number | null];
  return code;
}

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  return { status: response.status, body: await response.json() };
}

test('engram start serves the API on 127.0.0.1, stops cleanly on SIGTERM and keeps what it acknowledged', async () => {
  const dataRoot = await tempDir();
  let server = await startServer(dataRoot);
  try {
    const stored = await json(`${server.url}/api/v1/memories/remember`, {
      method: 'POST',
      headers: { 'x-memory-space': 'e2e-space' },
      body: JSON.stringify({ id: 'gene', content: 'CRISPR gene editing' }),
    });
    assert.equal(stored.status, 201);
    const recalled = await json(
      `${server.url}/api/v1/memories/recall?query=CRISPR&k=1&space=e2e-space`,
    );
    assert.equal(recalled.body.memories[0].id, 'gene');
    const empty = await json(
      `${server.url}/api/v1/memories/recall?query=CRISPR&k=1&space=other-space`,
    );
    assert.deepEqual(empty.body.memories, []);
  } finally {
    assert.equal(await stop(server.child), 0);
  }

  server = await startServer(dataRoot);
  try {
    const health = await json(`${server.url}/api/v1/system/health`);
    assert.equal(health.body.status, 'ok');
    assert.deepEqual(
      health.body.spaces.map((s: { space: string; memories: number }) => [s.space, s.memories]),
      [['e2e-space', 1]],
    );
    const got = await json(`${server.url}/api/v1/memories/gene?space=e2e-space`);
    assert.equal(got.body.content, 'CRISPR gene editing');
  } finally {
    assert.equal(await stop(server.child), 0);
  }
});
