import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Registry, type EngineOptions } from '../../engine/index.ts';
import type { HttpSettings } from '../../server/http/context.ts';
import { buildHttpApp } from '../../server/http-app.ts';
import { tempDir } from '../helpers/temp-dir.ts';

interface Sse {
  events: Array<{ id: string; event: string; data: any }>;
  comments: string[];
  ended: Promise<void>;
  status: number;
  headers: IncomingMessage['headers'];
  close(): void;
}

async function listen(settings: Partial<HttpSettings> = {}, engine: Partial<EngineOptions> = {}) {
  const registry = await Registry.open({ dataRoot: await tempDir(), ...engine });
  const app = buildHttpApp({ engine: registry, logger: false, settings });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const stop = async () => {
    await app.close();
    await registry.close();
  };
  const subscribe = (headers: Record<string, string>): Promise<Sse> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/api/v1/stream/memories', headers },
        (res: IncomingMessage) => {
          const sse: Sse = {
            events: [],
            comments: [],
            status: res.statusCode ?? 0,
            headers: res.headers,
            ended: new Promise((done) => res.on('end', done).on('close', done)),
            close: () => req.destroy(),
          };
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) !== -1) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              if (block.startsWith(':')) {
                sse.comments.push(block);
                continue;
              }
              const field = (name: string) =>
                block
                  .split('\n')
                  .find((l) => l.startsWith(`${name}: `))
                  ?.slice(name.length + 2);
              sse.events.push({
                id: field('id') ?? '',
                event: field('event') ?? '',
                data: JSON.parse(field('data') ?? 'null'),
              });
            }
          });
          resolve(sse);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const remember = (space: string, body: object) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/memories/remember',
      headers: { 'x-memory-space': space },
      payload: body,
    });
  return { app, registry, subscribe, remember, stop };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a subscriber of space B receives B events in LSN order and never an event of space A', async () => {
  const server = await listen();
  try {
    await server.registry.createSpace('space-a', { embedder: 'hash' });
    await server.registry.createSpace('space-b', { embedder: 'hash' });
    const b = await server.subscribe({ 'x-memory-space': 'space-b' });
    assert.equal(b.status, 200);
    await server.remember('space-a', { id: 'a1', content: 'secret of A' });
    await server.remember('space-b', { id: 'b1', content: 'note of B' });
    await server.app.inject({
      method: 'PATCH',
      url: '/api/v1/memories/b1',
      headers: { 'x-memory-space': 'space-b' },
      payload: { confidence: 0.2 },
    });
    await server.app.inject({
      method: 'DELETE',
      url: '/api/v1/memories/a1',
      headers: { 'x-memory-space': 'space-a' },
    });
    await server.app.inject({
      method: 'DELETE',
      url: '/api/v1/memories/b1',
      headers: { 'x-memory-space': 'space-b' },
    });
    await until(() => b.events.length >= 3, 'three events of B');
    await new Promise((r) => setTimeout(r, 100)); // time for a stray A event to arrive, if one were sent
    assert.deepEqual(
      b.events.map((e) => [e.event, e.data.memory_id, e.data.memory_space]),
      [
        ['stored', 'b1', 'space-b'],
        ['updated', 'b1', 'space-b'],
        ['forgotten', 'b1', 'space-b'],
      ],
    );
    assert.equal(b.events[0]!.data.content, 'note of B');
    const ids = b.events.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => x - y),
    );
    assert.doesNotMatch(JSON.stringify(b.events), /secret of A|a1/);
    b.close();
  } finally {
    await server.stop();
  }
});

test('Last-Event-ID resumes after that event, then continues live without gaps or repeats', async () => {
  const server = await listen();
  try {
    for (let i = 1; i <= 5; i++)
      await server.remember('resume-space', { id: `m${i}`, content: `memory ${i}` });
    const first = await server.subscribe({
      'x-memory-space': 'resume-space',
      'last-event-id': '0',
    });
    await until(() => first.events.length >= 5, 'replay from 0');
    const third = first.events[2]!.id;
    first.close();
    const resumed = await server.subscribe({
      'x-memory-space': 'resume-space',
      'last-event-id': third,
    });
    await server.remember('resume-space', { id: 'm6', content: 'memory 6' });
    await until(() => resumed.events.length >= 3, 'replayed and live events');
    assert.deepEqual(
      resumed.events.map((e) => e.data.memory_id),
      ['m4', 'm5', 'm6'],
    );
    resumed.close();
  } finally {
    await server.stop();
  }
});

test('events a checkpoint removed cannot be resumed: 409 ENG_EVENTS_EXPIRED', async () => {
  const server = await listen({}, { walSegmentBytesMax: 4096, indexSnapshotEveryRecords: 5 });
  try {
    for (let i = 0; i < 60; i++)
      await server.remember('short-log', { content: `memory number ${i} with some words in it` });
    const space = await server.registry.space('short-log');
    for (let i = 0; i < 50 && (await space.stats()).pendingApply > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    const response = await server.app.inject({
      method: 'GET',
      url: '/api/v1/stream/memories?space=short-log',
      headers: { 'last-event-id': '1' },
    });
    assert.equal(response.statusCode, 409);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'ENG_EVENTS_EXPIRED');
  } finally {
    await server.stop();
  }
});

test('streams send heartbeats, refuse bad input, and end cleanly when the server shuts down', async () => {
  const server = await listen({ streamHeartbeatMs: 30, maxStreamSubscribers: 1 });
  let stopped = false;
  try {
    await server.registry.createSpace('beats');
    assert.equal(
      (await server.app.inject({ method: 'GET', url: '/api/v1/stream/memories?space=ghost-space' }))
        .statusCode,
      404,
    );
    const bad = await server.app.inject({
      method: 'GET',
      url: '/api/v1/stream/memories?space=beats',
      headers: { 'last-event-id': 'abc' },
    });
    assert.equal(bad.statusCode, 400);
    const sse = await server.subscribe({ 'x-memory-space': 'beats' });
    await until(() => sse.comments.some((c) => c.includes('heartbeat')), 'a heartbeat');
    // The stream writes its own head (a hijacked reply): the security headers are there too.
    assert.equal(sse.headers['x-content-type-options'], 'nosniff');
    assert.match(String(sse.headers['content-security-policy']), /^default-src 'self'/);
    const second = await server.app.inject({
      method: 'GET',
      url: '/api/v1/stream/memories?space=beats',
    });
    assert.equal(second.statusCode, 429);
    assert.equal(second.json<{ error: { code: string } }>().error.code, 'ENG_TOO_MANY_STREAMS');
    await server.stop();
    stopped = true;
    await sse.ended;
  } finally {
    if (!stopped) await server.stop();
  }
});
