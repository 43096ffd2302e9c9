/**
 * Validation of memories loaded as they are (restore, import): unlike remember(), a loaded
 * memory keeps its id, timestamps, suppression, consolidation citations, access statistics
 * and associations. Every field is checked as strictly as a live write, so a backup or an
 * import file can never put into a space what the API would refuse.
 */
import { EngramError } from './errors.ts';
import {
  validateConfidence,
  validateEpisode,
  validateMemoryType,
  validateTags,
  validateTime,
} from './memory-fields.ts';
import {
  validateContent,
  validateMemoryId,
  validateMetadata,
  validateVector,
  type MemoryRecord,
} from './memory.ts';
import type { EngineOptions } from './options.ts';
import type { SnapshotMemory } from './space-snapshot.ts';
import type { AccessRecord } from './warm/warm-store.ts';

type Limits = Pick<
  EngineOptions,
  'maxContentBytes' | 'maxMetadataBytes' | 'maxMemoryIdChars' | 'maxDimensions'
>;

/** Outgoing associations one loaded memory may carry. */
export const LOAD_ASSOCIATIONS_MAX = 10_000;
/** Sources one consolidated memory may cite. */
const CITATIONS_MAX = 10_000;

export interface LoadReport {
  /** Per item, in order: undefined when stored, else why not. */
  errors: Array<EngramError | undefined>;
  /** Associations whose target does not exist (yet); the caller may retry them later. */
  unresolved: Array<{ from: string; to: string; weight: number }>;
  /** LSN of the last log record written. */
  lastLsn: number;
}

function invalid(field: string, rule: string): EngramError {
  return new EngramError('ENG_FIELD_INVALID', `${field} must be ${rule}`, { details: { field } });
}

function checkAccess(raw: unknown): AccessRecord | null {
  if (raw === null || raw === undefined) return null;
  const access = raw as Partial<AccessRecord>;
  const ok =
    typeof access === 'object' &&
    Number.isSafeInteger(access.count) &&
    access.count! >= 0 &&
    Number.isFinite(access.last) &&
    Number.isFinite(access.since);
  if (!ok) throw invalid('access', 'an object { count, last, since } of non-negative numbers');
  return { count: access.count!, last: access.last!, since: access.since! };
}

function checkLinks(raw: unknown, limits: Limits): SnapshotMemory['associations'] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > LOAD_ASSOCIATIONS_MAX)
    throw invalid('associations', `a list of at most ${LOAD_ASSOCIATIONS_MAX} links`);
  return raw.map((link: { to?: unknown; weight?: unknown }) => {
    if (typeof link?.weight !== 'number' || !Number.isFinite(link.weight))
      throw invalid('associations[].weight', 'a finite number');
    return { to: validateMemoryId(link.to, limits), weight: link.weight };
  });
}

function checkConsolidation(
  raw: unknown,
  limits: Limits,
): MemoryRecord['consolidation'] | undefined {
  if (raw === undefined) return undefined;
  const value = raw as { sources?: unknown; strength?: unknown };
  if (!Array.isArray(value?.sources) || value.sources.length > CITATIONS_MAX)
    throw invalid('consolidation.sources', `a list of at most ${CITATIONS_MAX} memory ids`);
  return {
    sources: value.sources.map((id) => validateMemoryId(id, limits)),
    strength: validateConfidence(value.strength, 'consolidation.strength'),
  };
}

/** A validated copy of one memory to load; throws a typed error naming the bad field. */
export function checkSnapshotMemory(raw: SnapshotMemory, limits: Limits): SnapshotMemory {
  if (
    raw === null ||
    typeof raw !== 'object' ||
    raw.record === null ||
    typeof raw.record !== 'object'
  )
    throw invalid('memory', 'an object with a record');
  const r = raw.record;
  if (typeof r.suppressed !== 'boolean') throw invalid('suppressed', 'true or false');
  const vector =
    raw.vector === null || raw.vector === undefined ? null : validateVector(raw.vector, limits);
  const consolidation = checkConsolidation(r.consolidation, limits);
  const record: SnapshotMemory['record'] = {
    id: validateMemoryId(r.id, limits),
    content: validateContent(r.content, limits),
    metadata: validateMetadata(r.metadata ?? {}, limits),
    confidence: validateConfidence(r.confidence),
    memoryType: validateMemoryType(r.memoryType),
    tags: validateTags(r.tags ?? []),
    observedAt: validateTime(r.observedAt, 'observed_at'),
    suppressed: r.suppressed,
    ...(r.episode === undefined ? {} : { episode: validateEpisode(r.episode, limits) }),
    ...(consolidation ? { consolidation } : {}),
    storedAt: validateTime(r.storedAt, 'stored_at'),
    updatedAt: validateTime(r.updatedAt, 'updated_at'),
    hasVector: vector !== null,
  };
  return {
    record,
    vector,
    access: checkAccess(raw.access),
    associations: checkLinks(raw.associations, limits),
  };
}
