/** Validation of recall options, and the filter every recall candidate passes. */
import { EngramError } from './errors.ts';
import {
  validateConfidence,
  validateMemoryType,
  validateTags,
  validateTime,
} from './memory-fields.ts';
import { RECALL_MODES, type MemoryRecord, type MemoryType, type RecallMode } from './memory.ts';
import type { EngineOptions } from './options.ts';
import type { RecallFilter, RecallOptions } from './storage.ts';

export interface CheckedRecall {
  k: number;
  mode: RecallMode | undefined;
  /** Hits scoring below this are dropped. */
  threshold: number;
  includeSuppressed: boolean;
  accept: (record: MemoryRecord) => boolean;
  /** True when something beyond suppression filters candidates (searches must over-fetch more). */
  selective: boolean;
}

export function checkRecallOptions(
  options: RecallOptions,
  limits: Pick<EngineOptions, 'maxK'>,
): CheckedRecall {
  const { k } = options;
  if (!Number.isInteger(k) || k < 1 || k > limits.maxK) {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `k must be an integer from 1 to ${limits.maxK}, got ${JSON.stringify(k)}`,
    );
  }
  const threshold = options.threshold ?? -1;
  if (
    typeof threshold !== 'number' ||
    !Number.isFinite(threshold) ||
    threshold < -1 ||
    threshold > 1
  ) {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `threshold must be a number from -1 to 1, got ${JSON.stringify(threshold)}`,
    );
  }
  const includeSuppressed = options.includeSuppressed === true;
  const { mode } = options;
  if (mode !== undefined && !RECALL_MODES.includes(mode)) {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `mode must be one of ${RECALL_MODES.join(', ')}, got ${JSON.stringify(mode)}`,
    );
  }
  const filter = checkFilter(options.filter);
  const accept = (record: MemoryRecord): boolean =>
    (includeSuppressed || !record.suppressed) && matches(record, filter);
  return { k, mode, threshold, includeSuppressed, accept, selective: filter !== undefined };
}

interface CheckedFilter {
  tags: string[] | undefined;
  memoryTypes: MemoryType[] | undefined;
  observedAfter: number | undefined;
  observedBefore: number | undefined;
  minConfidence: number | undefined;
}

function checkFilter(raw: RecallFilter | undefined): CheckedFilter | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object')
    throw new EngramError('ENG_QUERY_INVALID', 'filter must be an object');
  const filter: CheckedFilter = {
    tags: raw.tags === undefined ? undefined : validateTags(raw.tags),
    memoryTypes:
      raw.memoryTypes === undefined ? undefined : raw.memoryTypes.map(validateMemoryType),
    observedAfter:
      raw.observedAfter === undefined
        ? undefined
        : validateTime(raw.observedAfter, 'filter.observed_after'),
    observedBefore:
      raw.observedBefore === undefined
        ? undefined
        : validateTime(raw.observedBefore, 'filter.observed_before'),
    minConfidence:
      raw.minConfidence === undefined
        ? undefined
        : validateConfidence(raw.minConfidence, 'filter.min_confidence'),
  };
  return Object.values(filter).every((v) => v === undefined) ? undefined : filter;
}

/** Tags: the memory has every tag asked for. Types: any of them. Times: inclusive bounds. */
function matches(record: MemoryRecord, filter: CheckedFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.tags && !filter.tags.every((tag) => record.tags.includes(tag))) return false;
  if (filter.memoryTypes && !filter.memoryTypes.includes(record.memoryType)) return false;
  if (filter.observedAfter !== undefined && record.observedAt < filter.observedAfter) return false;
  if (filter.observedBefore !== undefined && record.observedAt > filter.observedBefore)
    return false;
  if (filter.minConfidence !== undefined && record.confidence < filter.minConfidence) return false;
  return true;
}

export function checkListTier(tier: unknown): void {
  if (tier !== undefined && tier !== 'hot' && tier !== 'warm' && tier !== 'cold') {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `tier must be "hot", "warm" or "cold", got ${JSON.stringify(tier)}`,
    );
  }
}
