/**
 * Wraps an async function as a grpc-js unary handler: the function gets the call and an
 * AbortSignal (client cancellation and the deadline), its result is the response, and anything
 * it throws becomes a status through grpc-errors.ts (internal errors logged in full).
 */
import type { handleUnaryCall, ServerUnaryCall } from '@grpc/grpc-js';
import type { GrpcContext } from './grpc-context.ts';
import { mapError, toGrpcError } from './grpc-errors.ts';
import { callSignal } from './call-signal.ts';
import { checkDecoded } from './undecodable.ts';

export function unaryCall<Req, Res>(
  ctx: GrpcContext,
  method: string,
  fn: (call: ServerUnaryCall<Req, Res>, signal: AbortSignal) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const { signal, dispose } = callSignal(call);
    // Async, so that a synchronous throw (an invalid space id, say) is mapped like any other.
    (async () => {
      checkDecoded(call.request);
      return fn(call, signal);
    })().then(
      (response) => {
        dispose();
        callback(null, response);
      },
      (error: unknown) => {
        dispose();
        const mapped = mapError(error);
        if (mapped.internal) ctx.logger.error({ err: error, method }, 'gRPC call failed');
        callback(toGrpcError(mapped));
      },
    );
  };
}
