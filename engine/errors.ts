/**
 * The error catalogue: every code the engine can raise, its category and what it means.
 * Codes never change meaning and are never reused. Transports map categories (never codes)
 * to HTTP and gRPC statuses in server/errors.ts. docs/errors.md documents every code, and a
 * test keeps the two in step.
 */

export const ERROR_CATEGORIES = [
  'invalid_argument',
  'not_found',
  'already_exists',
  'failed_precondition',
  'resource_exhausted',
  'unavailable',
  'data_loss',
  'permission_denied',
  'unauthenticated',
  'unimplemented',
  'internal',
] as const;

export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

export const ERROR_CATALOGUE = {
  ENG_OPTIONS_INVALID: {
    category: 'invalid_argument',
    summary: 'An engine option is unknown or out of range.',
  },
  ENG_SPACE_ID_INVALID: {
    category: 'invalid_argument',
    summary: 'A space id breaks the naming rule.',
  },
  ENG_DATA_ROOT_LOCKED: {
    category: 'failed_precondition',
    summary: 'Another live process holds the data root.',
  },
  ENG_SPACE_NOT_FOUND: { category: 'not_found', summary: 'No space with this id exists.' },
  ENG_SPACE_LIMIT_REACHED: {
    category: 'resource_exhausted',
    summary: 'Creating the space would exceed max_spaces.',
  },
  ENG_SPACE_QUARANTINED: {
    category: 'failed_precondition',
    summary: 'The space failed recovery and serves nothing until repaired.',
  },
  ENG_SPACE_CLOSED: {
    category: 'unavailable',
    summary: 'The space or the registry was closed while the call was made.',
  },
  ENG_MEMORY_ID_INVALID: {
    category: 'invalid_argument',
    summary: 'A memory id is empty, too long or holds control characters.',
  },
  ENG_MEMORY_NOT_FOUND: {
    category: 'not_found',
    summary: 'No memory with this id exists in the space.',
  },
  ENG_CONTENT_INVALID: {
    category: 'invalid_argument',
    summary: 'Memory content is missing, not a string, or larger than max_content_bytes.',
  },
  ENG_METADATA_INVALID: {
    category: 'invalid_argument',
    summary: 'Metadata is not a plain JSON object or is larger than max_metadata_bytes.',
  },
  ENG_FIELD_INVALID: {
    category: 'invalid_argument',
    summary:
      'A memory field (confidence, memory_type, tags, a time, an episode part) is out of range.',
  },
  ENG_VECTOR_INVALID: {
    category: 'invalid_argument',
    summary: 'A vector is empty, too long, holds a non-finite number or has zero length.',
  },
  ENG_VECTOR_DIM_MISMATCH: {
    category: 'invalid_argument',
    summary: 'A vector has another dimension than the space.',
  },
  ENG_QUERY_INVALID: {
    category: 'invalid_argument',
    summary: 'A recall or list argument (k, limit, cursor) is out of range.',
  },
  ENG_EMBEDDER_MISSING: {
    category: 'failed_precondition',
    summary: 'The space has no embedder, so text cannot be turned into a vector; send a vector.',
  },
  ENG_EMBEDDER_UNAVAILABLE: {
    category: 'unavailable',
    summary:
      'The embedder could not produce vectors (unreachable, timed out, refused or answered nonsense); nothing was stored.',
  },
  ENG_WRITE_QUEUE_FULL: {
    category: 'resource_exhausted',
    summary: 'The space has max_pending_writes writes waiting for the log; retry later.',
  },
  ENG_DISK_FULL: {
    category: 'resource_exhausted',
    summary: 'The log could not be written because the disk is full; the write was not stored.',
  },
  ENG_WAL_IO: {
    category: 'unavailable',
    summary:
      'Writing or syncing the log failed; the write was not acknowledged and the log refuses writes until the space is reopened.',
  },
  ENG_WAL_CORRUPT: {
    category: 'data_loss',
    summary: 'The log holds a damaged record followed by valid ones (mid-log corruption).',
  },
  ENG_WARM_UNREADABLE: {
    category: 'data_loss',
    summary: 'The space’s LMDB environment or space.json could not be read.',
  },
  ENG_COLD_CORRUPT: {
    category: 'data_loss',
    summary: 'A cold-tier segment record failed its checksum or could not be read.',
  },
  ENG_SPACE_FULL: {
    category: 'resource_exhausted',
    summary: 'The space’s warm and cold tiers are both at capacity.',
  },
  ENG_ABORTED: {
    category: 'unavailable',
    summary: 'The caller aborted the call before it was queued.',
  },
  ENG_EVENTS_EXPIRED: {
    category: 'failed_precondition',
    summary: 'The events after the given id were already removed from the log by a checkpoint.',
  },
  ENG_TOO_MANY_STREAMS: {
    category: 'resource_exhausted',
    summary: 'The server already serves its maximum number of event-stream subscribers.',
  },
  ENG_STREAM_TOO_SLOW: {
    category: 'resource_exhausted',
    summary: 'A stream subscriber stopped reading and too many events piled up; it was dropped.',
  },
  ENG_SHUTTING_DOWN: {
    category: 'unavailable',
    summary: 'The server is shutting down; retry against a running server.',
  },
  ENG_REQUEST_INVALID: {
    category: 'invalid_argument',
    summary: 'The request is malformed: bad JSON, a field of the wrong type, an unknown field.',
  },
  ENG_BODY_TOO_LARGE: {
    category: 'invalid_argument',
    summary: 'The request body is larger than the server accepts (HTTP 413).',
  },
  ENG_ROUTE_NOT_FOUND: { category: 'not_found', summary: 'No such route.' },
  ENG_APPLY_TIMEOUT: {
    category: 'unavailable',
    summary: 'The space did not apply its log far enough in time for a snapshot or a load.',
  },
  ENG_INDEX_UNAVAILABLE: {
    category: 'unavailable',
    summary: 'The vector index thread stopped; the space reopens and rebuilds its index.',
  },
  ENG_SPACE_EXISTS: {
    category: 'already_exists',
    summary: 'A restore would overwrite an existing space and was not forced.',
  },
  ENG_BACKUP_CORRUPT: {
    category: 'data_loss',
    summary: 'A backup file fails its checks (magic, version, frame checksum, count or digest).',
  },
  ENG_BACKUP_NOT_FOUND: { category: 'not_found', summary: 'No backup with this name.' },
  ENG_BACKUP_NAME_INVALID: {
    category: 'invalid_argument',
    summary: 'A backup name does not match the fixed backup name pattern.',
  },
  ENG_MIGRATION_BLOCKED: {
    category: 'failed_precondition',
    summary: 'engram migrate cannot move a legacy layout: the target space already exists.',
  },
  ENG_AUTH_REQUIRED: {
    category: 'unauthenticated',
    summary: 'The request carries no Authorization: Bearer <key> (auth_mode = "api_key").',
  },
  ENG_AUTH_MALFORMED: {
    category: 'unauthenticated',
    summary: 'The Authorization value is not "Bearer engram_<id>_<secret>".',
  },
  ENG_AUTH_KEY_UNKNOWN: {
    category: 'unauthenticated',
    summary: 'No API key has this id, or the secret does not match it.',
  },
  ENG_AUTH_KEY_EXPIRED: { category: 'unauthenticated', summary: 'The API key has expired.' },
  ENG_AUTH_KEY_REVOKED: { category: 'unauthenticated', summary: 'The API key was revoked.' },
  ENG_AUTH_SPACE_DENIED: {
    category: 'permission_denied',
    summary: 'The API key may not use the space the request is routed to.',
  },
  ENG_AUTH_PERMISSION_DENIED: {
    category: 'permission_denied',
    summary: 'The API key lacks the permission (read, write, admin) this call needs.',
  },
  ENG_KEY_INVALID: {
    category: 'invalid_argument',
    summary: 'A new API key has a bad name, permission, space list or expiry.',
  },
  ENG_KEY_NOT_FOUND: { category: 'not_found', summary: 'No API key with this id.' },
  ENG_KEY_STORE_CORRUPT: {
    category: 'data_loss',
    summary: 'The API key file cannot be read or parsed.',
  },
  ENG_KEY_STORE_BUSY: {
    category: 'unavailable',
    summary: 'Another process held the API key file lock for too long.',
  },
  ENG_INSECURE_LISTEN: {
    category: 'failed_precondition',
    summary: 'auth_mode = "none" on a non-loopback address without --insecure.',
  },
  ENG_RATE_LIMITED: {
    category: 'resource_exhausted',
    summary: 'Too many requests for this key and space; retry after the time given.',
  },
  ENG_NOT_IMPLEMENTED: { category: 'unimplemented', summary: 'The feature is not built yet.' },
  ENG_INTERNAL: { category: 'internal', summary: 'An unexpected failure inside the engine.' },
} as const satisfies Record<string, { category: ErrorCategory; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class EngramError extends Error {
  override readonly name = 'EngramError';
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.category = ERROR_CATALOGUE[code].category;
    this.details = options.details;
  }
}

export function isEngramError(error: unknown, code?: ErrorCode): error is EngramError {
  return error instanceof EngramError && (code === undefined || error.code === code);
}

/** Maps an errno from the file system to the catalogue (ENOSPC is the one a client can act on). */
export function ioError(context: string, cause: unknown): EngramError {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new EngramError('ENG_DISK_FULL', `${context}: disk full (${reason})`, {
      cause,
      details: { errno },
    });
  }
  return new EngramError('ENG_WAL_IO', `${context}: ${reason}`, { cause, details: { errno } });
}
