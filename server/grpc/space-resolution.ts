/**
 * Which space a gRPC message is for, decided for each message (also each message of a stream):
 * the call's `x-memory-space` metadata, else the message's memory_space_id (nested messages
 * that carry one too must agree with it), else the default space. The id is validated here,
 * before any engine call: an invalid one is ENG_SPACE_ID_INVALID (INVALID_ARGUMENT). Every id
 * resolved here is checked against the call's API key (server/auth/grpc-auth.ts) before it is
 * returned: ENG_AUTH_SPACE_DENIED (PERMISSION_DENIED) for a space the key may not use.
 */
import type { Metadata } from '@grpc/grpc-js';
import { EngramError, parseSpaceId, type SpaceId } from '../../engine/index.ts';
import { callAccess } from '../auth/grpc-auth.ts';

export const SPACE_METADATA_KEY = 'x-memory-space';

/** The metadata's space id, or undefined when not sent. Sent twice is an error. */
function fromMetadata(metadata: Metadata): string | undefined {
  const values = metadata.get(SPACE_METADATA_KEY);
  if (values.length > 1) {
    throw new EngramError('ENG_REQUEST_INVALID', `${SPACE_METADATA_KEY} was sent more than once`);
  }
  const value = values[0];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/**
 * The one space id the message's fields name (empty strings are "not given"), or undefined.
 * Two fields naming different spaces is an error: the message is ambiguous.
 */
function fromMessage(ids: ReadonlyArray<string | undefined>): string | undefined {
  let found: string | undefined;
  for (const id of ids) {
    if (id === undefined || id === '') continue;
    if (found !== undefined && found !== id) {
      throw new EngramError(
        'ENG_REQUEST_INVALID',
        `The message names two spaces: ${JSON.stringify(found)} and ${JSON.stringify(id)}`,
      );
    }
    found = id;
  }
  return found;
}

/** The id, parsed and allowed for the call's key. */
function authorized(metadata: Metadata, raw: string): SpaceId {
  const id = parseSpaceId(raw);
  callAccess(metadata).requireSpace(id);
  return id;
}

/** The space of a memory request: metadata, else the message, else `defaultSpace`. */
export function resolveSpaceId(
  metadata: Metadata,
  messageIds: ReadonlyArray<string | undefined>,
  defaultSpace: string,
): SpaceId {
  const message = fromMessage(messageIds);
  return authorized(metadata, fromMetadata(metadata) ?? message ?? defaultSpace);
}

/** The space a listing is narrowed to (metadata, else the message), or undefined for all. */
export function optionalSpaceId(
  metadata: Metadata,
  messageId: string | undefined,
): SpaceId | undefined {
  const raw = fromMetadata(metadata) ?? fromMessage([messageId]);
  return raw === undefined ? undefined : authorized(metadata, raw);
}

/**
 * The space CreateSpace / DeleteSpace act on. Here the id names the object of the call rather
 * than routing it, so there is no default, and metadata and message must agree when both are
 * sent: a channel-wide x-memory-space must never turn "delete b" into "delete a".
 */
export function namedSpaceId(metadata: Metadata, messageId: string | undefined): SpaceId {
  const header = fromMetadata(metadata);
  const message = fromMessage([messageId]);
  if (header !== undefined && message !== undefined && header !== message) {
    throw new EngramError(
      'ENG_REQUEST_INVALID',
      `${SPACE_METADATA_KEY} (${JSON.stringify(header)}) and memory_space_id (${JSON.stringify(message)}) name different spaces`,
    );
  }
  const raw = message ?? header;
  if (raw === undefined) {
    throw new EngramError('ENG_REQUEST_INVALID', 'memory_space_id is required');
  }
  return authorized(metadata, raw);
}
