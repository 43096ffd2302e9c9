/**
 * Engine errors as gRPC statuses, through the one mapping in server/errors.ts
 * (CATEGORY_STATUS): the status code from the error's category, the message as details, and
 * the stable engine code in the trailing metadata entry `engram-error-code`. Anything that is
 * not an engine error is INTERNAL with its message hidden (the caller logs it in full). The
 * per-message error of a stream (the Error message) carries the same three things.
 */
import { Metadata, type ServerErrorResponse } from '@grpc/grpc-js';
import { EngramError } from '../../engine/index.ts';
import type { ErrorResult } from '../../proto/engram/v1/messages.ts';
import { toStruct } from '../../proto/engram/v1/well-known.ts';
import { CATEGORY_STATUS } from '../errors.ts';

export const ERROR_CODE_METADATA_KEY = 'engram-error-code';

const INTERNAL = { code: 'ENG_INTERNAL', message: 'Internal error' } as const;

export interface MappedError {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown> | undefined;
  /** True when the error was not an expected engine error: log it in full. */
  internal: boolean;
}

export function mapError(error: unknown): MappedError {
  if (error instanceof EngramError) {
    return {
      status: CATEGORY_STATUS[error.category].grpc,
      code: error.code,
      message: error.message,
      details: error.details ? { ...error.details } : undefined,
      internal: error.category === 'internal',
    };
  }
  return {
    status: CATEGORY_STATUS.internal.grpc,
    ...INTERNAL,
    details: undefined,
    internal: true,
  };
}

/** What a handler passes to grpc-js to fail a call: code, details and trailing metadata. */
export function toGrpcError(mapped: MappedError): ServerErrorResponse {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, mapped.code);
  return Object.assign(new Error(mapped.message), {
    code: mapped.status,
    details: mapped.message,
    metadata,
  });
}

/** The Error message of one failed message in a stream. */
export function toErrorResult(mapped: MappedError): ErrorResult {
  const result: ErrorResult = { code: mapped.code, message: mapped.message, status: mapped.status };
  if (mapped.details) result.details = toStruct(mapped.details);
  return result;
}
