/**
 * The one place where PostgreSQL and driver failures become engine errors. Callers match on
 * codes, so a database error never reaches them raw; the original stays as `cause` for the log.
 */
import { EngramError, isEngramError } from '../../errors.ts';

interface PgErrorLike {
  code?: string;
  message?: string;
}

/** SQLSTATEs after which a write transaction is simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has((error as PgErrorLike | undefined)?.code ?? '');
}

function isUnavailable(code: string, message: string): boolean {
  return (
    code.startsWith('08') || // connection exceptions
    code === '57P01' || // admin shutdown
    code === '57P02' || // crash shutdown
    code === '57P03' || // cannot connect now
    code === '53300' || // too many connections
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH'].includes(
      code,
    ) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      message,
    )
  );
}

/**
 * Maps a failure of `context` (for example `Cannot store in space "notes"`). Engine errors pass
 * through. There is no catalogue code yet for "the database is unreachable"; until there is,
 * it is ENG_INTERNAL with a message that says so (see docs/postgres.md).
 */
export function databaseError(context: string, cause: unknown): EngramError {
  if (isEngramError(cause)) return cause;
  const { code = '', message = String(cause) } = (cause ?? {}) as PgErrorLike;
  if (code === '53100') {
    return new EngramError('ENG_DISK_FULL', `${context}: the database is out of disk space`, {
      cause,
      details: { sqlstate: code },
    });
  }
  if (isUnavailable(code, message)) {
    return new EngramError('ENG_INTERNAL', `${context}: PostgreSQL is unavailable (${message})`, {
      cause,
      details: { sqlstate: code, unavailable: true },
    });
  }
  if (code === '57014') {
    return new EngramError('ENG_INTERNAL', `${context}: the statement timed out (${message})`, {
      cause,
      details: { sqlstate: code },
    });
  }
  return new EngramError('ENG_INTERNAL', `${context}: ${message}`, {
    cause,
    details: { sqlstate: code },
  });
}
