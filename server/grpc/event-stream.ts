/**
 * Stream: the live events of exactly one space, the same events as the HTTP SSE stream
 * (engine.subscribe, so a subscriber only ever sees the space it named), optionally replaying
 * the ones after `after_lsn` first. Response headers go out once the subscription is live, so a
 * client knows that every later write will reach it.
 *
 * The engine publishes synchronously and cannot wait for one client, so back-pressure here is a
 * bound: while write() reports a full buffer, events queue here, and a subscriber with more
 * than maxStreamBufferedEvents waiting is dropped (RESOURCE_EXHAUSTED); it can resume with
 * after_lsn set to the last LSN it received.
 */
import { Metadata, type handleServerStreamingCall, type ServerWritableStream } from '@grpc/grpc-js';
import { EngramError, type SpaceEvent } from '../../engine/index.ts';
import type { SpaceEventMessage, StreamRequest } from '../../proto/engram/v1/messages.ts';
import type { GrpcContext } from './grpc-context.ts';
import { mapError, toGrpcError } from './grpc-errors.ts';
import { eventToWire } from './grpc-wire.ts';
import { resolveSpaceId } from './space-resolution.ts';
import { checkDecoded } from './undecodable.ts';

type StreamCall = ServerWritableStream<StreamRequest, SpaceEventMessage>;

export interface EventStreamDeps {
  /** Registers a running stream so server shutdown can end it; returns the deregistration. */
  track(stop: () => void): () => void;
}

/** A FIFO of events waiting for the client, O(1) at both ends. */
class EventQueue {
  private items: SpaceEventMessage[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: SpaceEventMessage): void {
    this.items.push(item);
  }
  shift(): SpaceEventMessage | undefined {
    const item = this.items[this.head];
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }
}

export function eventStreamHandler(
  ctx: GrpcContext,
  deps: EventStreamDeps,
): handleServerStreamingCall<StreamRequest, SpaceEventMessage> {
  let open = 0;

  const failCall = (call: StreamCall, error: unknown): void => {
    const mapped = mapError(error);
    if (mapped.internal) ctx.logger.error({ err: error, method: 'Stream' }, 'gRPC call failed');
    call.emit('error', toGrpcError(mapped));
  };

  const serve = async (call: StreamCall): Promise<void> => {
    const { request } = call;
    let spaceId;
    try {
      checkDecoded(request);
      spaceId = resolveSpaceId(call.metadata, [request.memory_space_id], ctx.settings.defaultSpace);
      if (open >= ctx.settings.maxStreamSubscribers) {
        throw new EngramError(
          'ENG_TOO_MANY_STREAMS',
          `${open} gRPC event streams are open (max_stream_subscribers)`,
        );
      }
      // Subscribing needs the space to exist; nothing is created for a stream.
      if (!(await ctx.engine.hasSpace(spaceId))) {
        throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${spaceId}"`);
      }
    } catch (error) {
      failCall(call, error);
      return;
    }

    open += 1;
    const queue = new EventQueue();
    let ended = false;
    let bufferFull = false;
    let unsubscribe: (() => void) | undefined;
    let untrack = (): void => undefined;
    const gone = (): boolean => call.cancelled || call.destroyed || call.writableEnded;

    const end = (error?: unknown): void => {
      if (ended) return;
      ended = true;
      open -= 1;
      untrack();
      unsubscribe?.();
      if (gone()) return;
      if (error === undefined) call.end();
      else if (error instanceof Error && 'code' in error && typeof error.code === 'number') {
        call.emit('error', error);
      } else failCall(call, error);
    };

    const write = (message: SpaceEventMessage): void => {
      if (!call.write(message)) bufferFull = true;
    };

    const deliver = (event: SpaceEvent): void => {
      if (ended) return;
      const message = eventToWire(event);
      if (!bufferFull) {
        write(message);
        return;
      }
      queue.push(message);
      if (queue.length > ctx.settings.maxStreamBufferedEvents) {
        ctx.logger.warn({ space: spaceId }, 'gRPC event stream subscriber too slow: dropped');
        const details = `Subscriber too slow: more than ${ctx.settings.maxStreamBufferedEvents} events waiting; resume with after_lsn set to the last lsn received`;
        end(new EngramError('ENG_STREAM_TOO_SLOW', details));
      }
    };

    call.on('drain', () => {
      bufferFull = false;
      while (!bufferFull && queue.length > 0 && !ended) write(queue.shift()!);
    });
    call.on('cancelled', () => end());
    call.on('close', () => end());
    untrack = deps.track(() =>
      end(
        new EngramError(
          'ENG_SHUTTING_DOWN',
          'The server is shutting down; resume with after_lsn set to the last lsn received',
        ),
      ),
    );

    try {
      const subscription = await ctx.engine.subscribe(
        spaceId,
        deliver,
        request.after_lsn === undefined ? {} : { afterLsn: request.after_lsn },
      );
      if (ended) {
        subscription();
        return;
      }
      unsubscribe = subscription;
    } catch (error) {
      end(error);
      return;
    }
    call.sendMetadata(new Metadata()); // "subscribed": a no-op when replayed events already went out
  };

  return (call) => {
    void serve(call);
  };
}
