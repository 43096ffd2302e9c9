/**
 * client/http-client.ts against a scripted local server: what it sends, and how each kind of
 * answer surfaces (the server's error code and message, a non-engram answer, silence).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import {
  EngramHttpClient,
  EngramHttpError,
  EngramUnreachableError,
} from '../../client/http-client.ts';

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;
let handler: Handler = () => undefined;
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => handler(request, body, response));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
after(() => server.close());
const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;

function answer(status: number, body: string, type = 'application/json'): Handler {
  return (_request, _body, response) => {
    response.writeHead(status, { 'content-type': type });
    response.end(body);
  };
}

test('memory calls send the space as X-Memory-Space and JSON bodies; ids are escaped in paths', async () => {
  const seen: Array<{ method: unknown; url: unknown; space: unknown; body: string }> = [];
  handler = (request, body, response) => {
    seen.push({
      method: request.method,
      url: request.url,
      space: request.headers['x-memory-space'],
      body,
    });
    answer(200, '{"ok":true}')(request, body, response);
  };
  const client = new EngramHttpClient({ baseUrl });
  await client.recall('notes', { query: 'cats', k: 2, mode: 'lexical' });
  await client.forget('notes', 'a/b c', { mode: 'suppress' });
  await client.systemHealth({ space: 'notes' });
  assert.deepEqual(seen, [
    {
      method: 'POST',
      url: '/api/v1/memories/recall',
      space: 'notes',
      body: '{"query":"cats","k":2,"mode":"lexical"}',
    },
    { method: 'DELETE', url: '/api/v1/memories/a%2Fb%20c?mode=suppress', space: 'notes', body: '' },
    { method: 'GET', url: '/api/v1/system/health?space=notes', space: undefined, body: '' },
  ]);
});

test("an error answer surfaces the server's status, code, message and details", async () => {
  handler = answer(
    404,
    JSON.stringify({
      error: { code: 'ENG_SPACE_NOT_FOUND', message: 'No space "x"', details: { id: 'x' } },
    }),
  );
  await assert.rejects(new EngramHttpClient({ baseUrl }).spaceStats('x'), (error: unknown) => {
    assert.ok(error instanceof EngramHttpError);
    assert.deepEqual(
      [error.status, error.code, error.message, error.details],
      [404, 'ENG_SPACE_NOT_FOUND', 'No space "x"', { id: 'x' }],
    );
    return true;
  });
});

test('an answer that is not an engram answer says so instead of passing garbage on', async () => {
  handler = answer(502, '<html>bad gateway</html>', 'text/html');
  await assert.rejects(new EngramHttpClient({ baseUrl }).listSpaces(), {
    name: 'EngramHttpError',
    code: 'HTTP_502',
    message: 'GET /api/v1/spaces answered HTTP 502: <html>bad gateway</html>',
  });
  handler = answer(200, 'hello', 'text/plain');
  await assert.rejects(new EngramHttpClient({ baseUrl }).listSpaces(), { code: 'HTTP_NOT_JSON' });
});

test('a server that does not answer in time is unreachable, not an error answer', async () => {
  handler = () => undefined; // never answers
  await assert.rejects(
    new EngramHttpClient({ baseUrl, timeoutMs: 100 }).health(),
    (error: unknown) => {
      assert.ok(error instanceof EngramUnreachableError);
      assert.match(error.message, /no answer within 100 ms/);
      return true;
    },
  );
  server.closeAllConnections();
});
