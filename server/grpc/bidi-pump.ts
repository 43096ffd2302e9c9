/**
 * Drives one bidirectional stream (StreamingRemember, StreamingRecall): reads requests,
 * processes up to `maxInFlight` at once, and writes one response per request as each finishes.
 *
 * Back-pressure, both ways, so one stream never makes the server hold more than about
 * maxInFlight requests plus a writable buffer's worth of responses:
 * - towards the client: at maxInFlight requests in flight the call is paused; grpc-js then
 *   stops reading the HTTP/2 stream, its flow-control window closes and the client's writes
 *   block. Reading resumes when a request finishes;
 * - towards the server's own output: when write() returns false (the client reads slower than
 *   we answer) reading pauses too, until 'drain'.
 *
 * The stream ends (status OK) once the client half-closed and every request was answered.
 * stop() (server shutdown) stops reading, lets the requests in flight finish and be answered,
 * then ends the call with UNAVAILABLE: requests never read were never acknowledged.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { EngramError, type Logger } from '../../engine/index.ts';
import { callSignal } from './call-signal.ts';
import { mapError, toGrpcError } from './grpc-errors.ts';
import type { StreamGauge } from './stream-gauge.ts';

export interface BidiPumpOptions<Req, Res> {
  call: ServerDuplexStream<Req, Res>;
  maxInFlight: number;
  gauge: StreamGauge;
  logger: Logger;
  /** Answers one request. Must resolve (a failed request is an error response, not a rejection). */
  handle(request: Req, signal: AbortSignal): Promise<Res>;
  /** Called once when the call is over, however it ended. */
  onDone(): void;
}

export class BidiPump<Req, Res> {
  private readonly call: ServerDuplexStream<Req, Res>;
  private readonly signal: AbortSignal;
  private readonly disposeSignal: () => void;
  private inFlight = 0;
  /** Responses written but not yet flushed to the transport. */
  private unflushed = 0;
  private waitingForDrain = false;
  private clientDone = false;
  private stopping = false;
  private finished = false;
  private done = false;

  constructor(private readonly options: BidiPumpOptions<Req, Res>) {
    this.call = options.call;
    const { signal, dispose } = callSignal(options.call);
    this.signal = signal;
    this.disposeSignal = dispose;
  }

  start(): void {
    const { call } = this;
    this.options.gauge.opened();
    call.on('data', (request: Req) => this.onRequest(request));
    call.on('end', () => {
      this.clientDone = true;
      this.maybeFinish();
    });
    call.on('drain', () => {
      this.waitingForDrain = false;
      this.maybeResume();
    });
    // Cancelled, deadline passed, connection lost, or ended: nothing more to send.
    call.on('close', () => this.markDone());
    call.on('finish', () => this.markDone());
  }

  /** Server shutdown: read nothing more, answer what is in flight, then end with UNAVAILABLE. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.call.pause();
    this.maybeFinish();
  }

  private onRequest(request: Req): void {
    this.inFlight += 1;
    this.options.gauge.received(this.inFlight + this.unflushed);
    if (this.inFlight >= this.options.maxInFlight) this.call.pause();
    void this.process(request);
  }

  private async process(request: Req): Promise<void> {
    let response: Res | undefined;
    try {
      response = await this.options.handle(request, this.signal);
    } catch (error) {
      // A handler bug: the stream cannot answer this request, so it ends with the error.
      this.options.logger.error({ err: error }, 'gRPC stream handler failed');
      this.fail(error);
    }
    this.inFlight -= 1;
    if (response !== undefined) this.send(response);
    this.maybeResume();
    this.maybeFinish();
  }

  private gone(): boolean {
    return this.done || this.call.cancelled || this.call.destroyed;
  }

  private send(response: Res): void {
    if (this.gone() || this.finished) return;
    this.unflushed += 1;
    const ok = this.call.write(response, () => {
      this.unflushed -= 1;
      this.options.gauge.flushed();
    });
    if (!ok) {
      this.waitingForDrain = true;
      this.call.pause();
    }
  }

  private maybeResume(): void {
    if (this.stopping || this.finished || this.waitingForDrain) return;
    if (this.inFlight >= this.options.maxInFlight) return;
    if (this.call.isPaused()) this.call.resume();
  }

  private maybeFinish(): void {
    if (this.finished || this.inFlight > 0 || !(this.clientDone || this.stopping)) return;
    this.finished = true;
    if (this.gone()) {
      this.markDone();
      return;
    }
    if (this.clientDone) {
      this.call.end();
      return;
    }
    // grpc-js: an 'error' event on a server stream becomes its status once buffered writes flush.
    this.call.emit(
      'error',
      toGrpcError(
        mapError(
          new EngramError(
            'ENG_SHUTTING_DOWN',
            'The server is shutting down; resend what was not acknowledged',
          ),
        ),
      ),
    );
  }

  private fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.stopping = true;
    this.call.pause();
    if (!this.gone()) this.call.emit('error', toGrpcError(mapError(error)));
  }

  private markDone(): void {
    if (this.done) return;
    this.done = true;
    this.disposeSignal();
    this.options.gauge.closed();
    this.options.onDone();
  }
}
