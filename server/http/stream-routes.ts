/**
 * GET /api/v1/stream/memories: server-sent events of exactly one space (routed like every
 * other request). Each event's id is its LSN; `Last-Event-ID` resumes after it while the
 * space's log still holds what followed. Heartbeat comments keep proxies from timing out; a
 * subscriber that stops reading is dropped once `maxStreamBufferedEvents` pile up, so a slow
 * client never makes the server buffer without bound. Streams end cleanly on shutdown.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { EngramError, type SpaceEvent } from '../../engine/index.ts';
import { toHttpError } from '../errors.ts';
import type { HttpContext } from './context.ts';
import * as schema from './schemas.ts';

function frame(event: SpaceEvent): string {
  const data = {
    memory_id: event.memoryId,
    memory_space: event.space,
    lsn: event.lsn,
    at: new Date(event.at).toISOString(),
    ...event.detail,
  };
  return `id: ${event.lsn}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function streamRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const open = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of [...open]) end();
    done();
  });

  app.get(
    '/api/v1/stream/memories',
    { schema: { querystring: schema.spaceOnlyQuery } },
    async (request, reply) => {
      const spaceId = ctx.spaceId(request);
      if (open.size >= ctx.settings.maxStreamSubscribers) {
        throw new EngramError(
          'ENG_TOO_MANY_STREAMS',
          `${open.size} event streams are open (max_stream_subscribers)`,
        );
      }
      const lastEventId = request.headers['last-event-id'];
      let afterLsn: number | undefined;
      if (lastEventId !== undefined) {
        afterLsn = Number(lastEventId);
        if (typeof lastEventId !== 'string' || !/^\d+$/.test(lastEventId)) {
          throw new EngramError(
            'ENG_REQUEST_INVALID',
            'Last-Event-ID must be an event id (a non-negative integer)',
          );
        }
      }
      if (!(await ctx.engine.hasSpace(spaceId))) {
        // Streaming a space that does not exist yet is allowed (it may be created by a write),
        // but subscribing needs it to exist: create nothing, answer 404.
        throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${spaceId}"`);
      }

      const raw: ServerResponse = reply.raw;
      let buffered = 0;
      let ended = false;
      const pending: string[] = [];
      // Set once the response headers are out; the closures below run before and after that.
      const live: { unsubscribe?: () => void } = {};
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        live.unsubscribe?.();
        open.delete(end);
        raw.end();
      };
      const send = (text: string): void => {
        if (ended) return;
        if (live.unsubscribe === undefined) {
          pending.push(text); // events replayed before the headers are out
          return;
        }
        if (!raw.write(text)) {
          buffered += 1;
          if (buffered > ctx.settings.maxStreamBufferedEvents) {
            request.log.warn({ space: spaceId }, 'event stream subscriber too slow: dropped');
            end();
          }
        } else {
          buffered = 0;
        }
      };
      raw.on('drain', () => (buffered = 0));
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), ctx.settings.streamHeartbeatMs);
      heartbeat.unref();
      open.add(end);
      request.raw.on('close', end);

      let subscription: () => void;
      try {
        subscription = await ctx.engine.subscribe(
          spaceId,
          (event) => send(frame(event)),
          afterLsn === undefined ? {} : { afterLsn },
        );
      } catch (error) {
        clearInterval(heartbeat);
        open.delete(end);
        ended = true;
        const mapped = toHttpError(error);
        return reply.status(mapped.status).send(mapped.body);
      }
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(`: subscribed to ${spaceId}\n\n`);
      live.unsubscribe = subscription;
      if (ended) {
        subscription();
        return;
      }
      for (const text of pending.splice(0)) send(text);
    },
  );
}
