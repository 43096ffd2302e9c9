/**
 * An AbortSignal for one gRPC call: aborted when the client cancels (or goes away) and when the
 * call's deadline passes, so engine calls made for it ({ signal }) stop before they are queued
 * and embedders stop waiting. grpc-js also ends a call whose deadline passed; the timer here
 * makes the signal fire at that moment even while the handler is busy.
 */
import type { Deadline } from '@grpc/grpc-js';

/** What every kind of server call has (grpc-js does not export its ServerSurfaceCall type). */
interface SurfaceCall {
  readonly cancelled: boolean;
  getDeadline(): Deadline;
  once(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

export interface CallSignal {
  signal: AbortSignal;
  /** Stops the deadline timer; call once the call is over. */
  dispose: () => void;
}

/** Deadlines further out than this are treated as none (setTimeout takes 32-bit ms). */
const TIMER_MS_MAX = 2 ** 31 - 1;

export function callSignal(call: SurfaceCall): CallSignal {
  const controller = new AbortController();
  const onCancel = (): void => controller.abort(new Error('The client cancelled the call'));
  call.once('cancelled', onCancel);
  if (call.cancelled) onCancel();
  let timer: NodeJS.Timeout | undefined;
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(deadlineMs)) {
    const abortAtDeadline = (): void =>
      controller.abort(new Error('The deadline of the call passed'));
    const wait = deadlineMs - Date.now();
    if (wait <= 0) abortAtDeadline();
    else if (wait <= TIMER_MS_MAX) timer = setTimeout(abortAtDeadline, wait);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}
