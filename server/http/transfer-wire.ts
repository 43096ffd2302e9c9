/**
 * One memory as a line of an export / import file (JSON Lines, snake_case, ISO 8601 times),
 * and back. The line carries everything a restore keeps except nothing: id, content, fields,
 * timestamps, suppression, episode, consolidation citations, access statistics, outgoing
 * associations and (when asked) the vector as `embedding`. Field values are checked by the
 * engine (checkSnapshotMemory); this only maps names and refuses unknown fields.
 */
import { EngramError, type SnapshotMemory } from '../../engine/index.ts';
import { memoryToWire } from './wire.ts';

const LINE_FIELDS = new Set([
  'id',
  'content',
  'confidence',
  'memory_type',
  'tags',
  'metadata',
  'observed_at',
  'stored_at',
  'updated_at',
  'suppressed',
  'episode',
  'consolidation',
  'associations',
  'access_count',
  'last_access',
  'embedding',
  'has_embedding',
  // Output of the API that a line may carry; ignored (the import names its own space).
  'memory_space',
]);

export function memoryToLine(memory: SnapshotMemory, vectors: boolean): string {
  const { record, access } = memory;
  const counted = access && access.since === record.storedAt ? access : undefined;
  const view = {
    ...record,
    lsn: record.lsn ?? 0,
    accessCount: counted?.count ?? 0,
    lastAccess: counted ? counted.last : null,
  };
  // The API's own memory shape, minus the space (a line may go to any space), plus links.
  const { memory_space: _space, ...line } = memoryToWire(view, '');
  const out: Record<string, unknown> = { ...line, associations: memory.associations };
  if (vectors && memory.vector) out.embedding = Array.from(memory.vector);
  return `${JSON.stringify(out)}\n`;
}

function asTime(raw: unknown): number {
  // The engine validates the value; an ISO string becomes ms here so the record type holds.
  return (typeof raw === 'string' ? Date.parse(raw) : raw) as number;
}

/** A parsed line -> the memory to load; ENG_REQUEST_INVALID for a line that is no memory at all. */
export function memoryFromLine(value: unknown): SnapshotMemory {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new EngramError('ENG_REQUEST_INVALID', 'The line is not a JSON object');
  const line = value as Record<string, unknown>;
  const unknown = Object.keys(line).find((key) => !LINE_FIELDS.has(key));
  if (unknown !== undefined)
    throw new EngramError('ENG_REQUEST_INVALID', `Unknown field "${unknown}"`, {
      details: { field: unknown },
    });
  const storedAt = asTime(line.stored_at ?? Date.now());
  const count = line.access_count ?? 0;
  const episode = line.episode as Record<string, unknown> | undefined;
  if (
    episode !== undefined &&
    (episode === null || typeof episode !== 'object' || Array.isArray(episode))
  )
    throw new EngramError('ENG_FIELD_INVALID', 'episode must be an object', {
      details: { field: 'episode' },
    });
  // No vector: the field absent or null (the space's embedder gives one, if it has one).
  const embedding = line.embedding ?? undefined;
  return {
    record: {
      id: line.id as string,
      content: line.content as string,
      metadata: (line.metadata ?? {}) as Record<string, unknown>,
      confidence: (line.confidence ?? 0.7) as number,
      memoryType: (line.memory_type ?? 'semantic') as SnapshotMemory['record']['memoryType'],
      tags: (line.tags ?? []) as string[],
      observedAt: asTime(line.observed_at ?? storedAt),
      suppressed: (line.suppressed ?? false) as boolean,
      ...(episode === undefined
        ? {}
        : {
            episode: {
              ...episode,
              ...(episode.when === undefined ? {} : { when: asTime(episode.when) }),
            } as never,
          }),
      ...(line.consolidation === undefined ? {} : { consolidation: line.consolidation as never }),
      storedAt,
      updatedAt: asTime(line.updated_at ?? storedAt),
      hasVector: embedding !== undefined,
    },
    vector: embedding === undefined ? null : (embedding as never),
    access:
      count === 0
        ? null
        : { count: count as number, last: asTime(line.last_access), since: storedAt },
    associations: (line.associations ?? []) as SnapshotMemory['associations'],
  };
}
