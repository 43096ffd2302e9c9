/**
 * Which space a request is for, the same on every route that touches memories: the
 * X-Memory-Space header, else the `space` query parameter, else the `memory_space` body field
 * (`memory_space_id` is an alias; both present and different is an error), else the
 * configured default space. The id is validated here, before any engine call.
 */
import type { FastifyRequest } from 'fastify';
import { EngramError, parseSpaceId, type SpaceId } from '../../engine/index.ts';

export function resolveSpaceId(request: FastifyRequest, defaultSpace: string): SpaceId {
  const header = request.headers['x-memory-space'];
  if (Array.isArray(header)) {
    throw new EngramError('ENG_REQUEST_INVALID', 'X-Memory-Space was sent more than once');
  }
  const query = (request.query as Record<string, unknown> | undefined)?.space;
  if (query !== undefined && typeof query !== 'string') {
    throw new EngramError(
      'ENG_REQUEST_INVALID',
      'The space query parameter was sent more than once',
    );
  }
  const body = request.body as Record<string, unknown> | undefined | null;
  let fromBody: unknown;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const primary = body.memory_space;
    const alias = body.memory_space_id;
    if (primary !== undefined && alias !== undefined && primary !== alias) {
      throw new EngramError(
        'ENG_REQUEST_INVALID',
        `memory_space (${JSON.stringify(primary)}) and memory_space_id (${JSON.stringify(alias)}) name different spaces`,
      );
    }
    fromBody = primary ?? alias;
  }
  return parseSpaceId(header ?? query ?? fromBody ?? defaultSpace);
}
