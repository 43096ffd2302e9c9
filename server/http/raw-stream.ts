/**
 * Small helpers for routes that stream: a raw body parser (the handler reads request.body as a
 * stream, bounding it itself) and a write that waits for the socket to drain, so a slow client
 * never makes the server buffer a whole export.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** Content types whose bodies reach the handler unparsed, as a stream. */
export function addStreamParser(app: FastifyInstance, contentTypes: string[]): void {
  for (const type of contentTypes) {
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }
}

/** False once the client has gone away. */
export async function writeOrWait(raw: ServerResponse, text: string | Buffer): Promise<boolean> {
  if (raw.destroyed) return false;
  if (raw.write(text)) return true;
  await Promise.race([once(raw, 'drain'), once(raw, 'close')]);
  return !raw.destroyed;
}
