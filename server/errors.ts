/**
 * The one mapping from engine error categories to transport statuses. The engine never knows
 * HTTP or gRPC; every transport goes through this table. gRPC codes are the numeric values of
 * grpc.status, written out so this file does not depend on @grpc/grpc-js.
 */
import { EngramError, type ErrorCategory } from '../engine/index.ts';

export const CATEGORY_STATUS: Readonly<Record<ErrorCategory, { http: number; grpc: number }>> =
  Object.freeze({
    invalid_argument: { http: 400, grpc: 3 },
    not_found: { http: 404, grpc: 5 },
    already_exists: { http: 409, grpc: 6 },
    failed_precondition: { http: 409, grpc: 9 },
    resource_exhausted: { http: 429, grpc: 8 },
    unavailable: { http: 503, grpc: 14 },
    data_loss: { http: 500, grpc: 15 },
    permission_denied: { http: 403, grpc: 7 },
    unauthenticated: { http: 401, grpc: 16 },
    unimplemented: { http: 501, grpc: 12 },
    internal: { http: 500, grpc: 13 },
  });

/** HTTP has a status for exactly this case, and clients act on it: the one code-level override. */
const HTTP_STATUS_BY_CODE: Readonly<Partial<Record<string, number>>> = { ENG_BODY_TOO_LARGE: 413 };

export interface HttpErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/**
 * Turns any thrown value into a status and body. Engine errors keep their code and message;
 * anything else is `internal` with its message hidden from the client (the caller logs it).
 */
export function toHttpError(error: unknown): {
  status: number;
  body: HttpErrorBody;
  internal: boolean;
} {
  if (error instanceof EngramError) {
    const body: HttpErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details) body.error.details = { ...error.details };
    return {
      status: HTTP_STATUS_BY_CODE[error.code] ?? CATEGORY_STATUS[error.category].http,
      body,
      internal: error.category === 'internal',
    };
  }
  return {
    status: 500,
    body: { error: { code: 'ENG_INTERNAL', message: 'Internal error' } },
    internal: true,
  };
}
