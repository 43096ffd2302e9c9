import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { GrpcClient } from '../../client/grpc-client.ts';
import { Registry } from '../../engine/index.ts';
import { createRootLoggerTo, startServer } from '../../server/main.ts';
import { rejectsWith } from '../fixtures/grpc-harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';

function captureLogs(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

test('startServer serves gRPC beside HTTP on one engine, reports the chosen port and stops cleanly', async () => {
  const logs = captureLogs();
  const server = await startServer(
    {
      engine: { dataRoot: await tempDir() },
      host: '127.0.0.1',
      port: 0,
      grpcPort: 0,
      logLevel: 'info',
    },
    createRootLoggerTo('info', logs.stream),
  );
  let client: GrpcClient | undefined;
  try {
    assert.match(server.grpcUrl, /^127\.0\.0\.1:\d+$/);
    assert.ok(server.grpcPort > 0 && server.grpcPort !== 50051);
    assert.equal(server.grpcUrl, `127.0.0.1:${server.grpcPort}`);
    const listening = logs.lines().find((line) => line.msg === 'engram listening');
    assert.equal(listening?.grpcUrl, server.grpcUrl);
    assert.equal(listening?.grpcPort, server.grpcPort);

    client = new GrpcClient({ target: server.grpcUrl });
    const stored = await client.remember({ memory_space_id: 'main-both', content: 'seen by both' });
    const response = await fetch(`${server.url}/api/v1/memories/${stored.memory_id}`, {
      headers: { 'x-memory-space': 'main-both' },
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { content: string }).content, 'seen by both');
  } finally {
    client?.close();
    await server.stop();
  }
  const after = new GrpcClient({ target: server.grpcUrl });
  await rejectsWith(after.health({}, { timeoutMs: 2000 }), { status: status.UNAVAILABLE });
  after.close();
});

test('startServer fails cleanly, releasing the engine, when the gRPC port is taken', async () => {
  const dataRoot = await tempDir();
  const first = await startServer(
    { engine: { dataRoot }, host: '127.0.0.1', port: 0, grpcPort: 0, logLevel: 'silent' },
    createRootLoggerTo('silent', captureLogs().stream),
  );
  const secondRoot = await tempDir();
  try {
    await assert.rejects(
      startServer(
        {
          engine: { dataRoot: secondRoot },
          host: '127.0.0.1',
          port: 0,
          grpcPort: first.grpcPort,
          logLevel: 'silent',
        },
        createRootLoggerTo('silent', captureLogs().stream),
      ),
    );
    // The data root's lock was released: another engine can open it.
    const registry = await Registry.open({ dataRoot: secondRoot });
    await registry.close();
  } finally {
    await first.stop();
  }
});
