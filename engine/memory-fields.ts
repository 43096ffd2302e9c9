/** Validation of the memory-model fields a caller may send: confidence, type, tags, times, episodes. */
import { EngramError } from './errors.ts';
import {
  MEMORY_TYPES,
  validateContent,
  validateMetadata,
  type Episode,
  type MemoryPatch,
  type MemoryType,
  type RememberInput,
} from './memory.ts';
import type { EngineOptions } from './options.ts';

export const DEFAULT_CONFIDENCE = 0.7;
export const MAX_TAGS = 32;
export const MAX_TAG_CHARS = 64;
const MAX_PEOPLE = 32;
// Years 1 to 9999: anything outside is a unit mistake (ns for ms, say), not a date.
const TIME_MIN = Date.parse('0001-01-01T00:00:00Z');
const TIME_MAX = Date.parse('9999-12-31T23:59:59Z');
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

type Limits = Pick<
  EngineOptions,
  'maxContentBytes' | 'maxMetadataBytes' | 'maxMemoryIdChars' | 'maxDimensions'
>;

function invalid(field: string, rule: string, got: unknown): EngramError {
  const shown = typeof got === 'string' && got.length > 60 ? `${got.slice(0, 60)}…` : got;
  return new EngramError(
    'ENG_FIELD_INVALID',
    `${field} must be ${rule}, got ${JSON.stringify(shown) ?? String(shown)}`,
    {
      details: { field },
    },
  );
}

export function validateConfidence(raw: unknown, field = 'confidence'): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > 1)
    throw invalid(field, 'a number from 0 to 1', raw);
  return raw;
}

export function validateMemoryType(raw: unknown): MemoryType {
  if (!MEMORY_TYPES.includes(raw as MemoryType))
    throw invalid('memory_type', `one of ${MEMORY_TYPES.join(', ')}`, raw);
  return raw as MemoryType;
}

/** Tags: at most 32 distinct strings of 1-64 characters without control characters; order kept. */
export function validateTags(raw: unknown): string[] {
  if (!Array.isArray(raw)) throw invalid('tags', 'a list of strings', raw);
  const tags: string[] = [];
  for (const tag of raw as unknown[]) {
    if (
      typeof tag !== 'string' ||
      tag.trim() === '' ||
      tag.length > MAX_TAG_CHARS ||
      CONTROL_CHARS.test(tag)
    ) {
      throw invalid(
        'tags',
        `strings of 1-${MAX_TAG_CHARS} characters without control characters`,
        tag,
      );
    }
    if (!tags.includes(tag)) tags.push(tag);
  }
  if (tags.length > MAX_TAGS) throw invalid('tags', `at most ${MAX_TAGS} tags`, tags.length);
  return tags;
}

/** A time as ms since the epoch, from a number of ms or an ISO 8601 string. */
export function validateTime(raw: unknown, field: string): number {
  const ms =
    typeof raw === 'string' && raw.trim() !== '' && Number.isNaN(Number(raw))
      ? Date.parse(raw)
      : raw;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < TIME_MIN || ms > TIME_MAX) {
    throw invalid(field, 'a time: ms since the epoch or an ISO 8601 string', raw);
  }
  return Math.round(ms);
}

function optionalText(raw: unknown, field: string, limits: Limits): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || Buffer.byteLength(raw) > limits.maxContentBytes) {
    throw invalid(field, `a string of at most ${limits.maxContentBytes} bytes`, raw);
  }
  return raw;
}

export function validateEpisode(raw: RememberInput['episode'], limits: Limits): Episode {
  if (raw === null || typeof raw !== 'object') throw invalid('episode', 'an object', raw);
  const what = optionalText(raw.what, 'episode.what', limits);
  if (what === undefined || what.trim() === '')
    throw invalid('episode.what', 'a non-empty string', raw.what);
  const episode: Episode = { what };
  if (raw.when !== undefined) episode.when = validateTime(raw.when, 'episode.when');
  for (const key of ['where', 'why', 'how'] as const) {
    const value = optionalText(raw[key], `episode.${key}`, limits);
    if (value !== undefined) episode[key] = value;
  }
  if (raw.who !== undefined) {
    if (
      !Array.isArray(raw.who) ||
      raw.who.length > MAX_PEOPLE ||
      raw.who.some((p) => typeof p !== 'string' || p.length > 256)
    ) {
      throw invalid('episode.who', `a list of at most ${MAX_PEOPLE} names`, raw.who);
    }
    episode.who = [...raw.who];
  }
  if (raw.importance !== undefined)
    episode.importance = validateConfidence(raw.importance, 'episode.importance');
  return episode;
}

/** The text an episode is remembered (and embedded) as when the caller gives no content. */
export function episodeText(episode: Episode): string {
  const parts = [episode.what];
  if (episode.where) parts.push(`where: ${episode.where}`);
  if (episode.who?.length) parts.push(`who: ${episode.who.join(', ')}`);
  if (episode.why) parts.push(`why: ${episode.why}`);
  if (episode.how) parts.push(`how: ${episode.how}`);
  return parts.join('\n');
}

const PATCH_FIELDS = new Set([
  'content',
  'metadata',
  'confidence',
  'memoryType',
  'tags',
  'suppressed',
]);

/** A validated copy of an update; unknown fields are refused, not dropped. */
export function validatePatch(raw: MemoryPatch, limits: Limits): MemoryPatch {
  if (raw === null || typeof raw !== 'object') throw invalid('patch', 'an object', raw);
  for (const key of Object.keys(raw)) {
    if (!PATCH_FIELDS.has(key))
      throw invalid(key, `not a field an update can change (${[...PATCH_FIELDS].join(', ')})`, key);
  }
  const patch: MemoryPatch = {};
  if (raw.content !== undefined) patch.content = validateContent(raw.content, limits);
  if (raw.metadata !== undefined) patch.metadata = validateMetadata(raw.metadata, limits);
  if (raw.confidence !== undefined) patch.confidence = validateConfidence(raw.confidence);
  if (raw.memoryType !== undefined) patch.memoryType = validateMemoryType(raw.memoryType);
  if (raw.tags !== undefined) patch.tags = validateTags(raw.tags);
  if (raw.suppressed !== undefined) {
    if (typeof raw.suppressed !== 'boolean')
      throw invalid('suppressed', 'true or false', raw.suppressed);
    patch.suppressed = raw.suppressed;
  }
  return patch;
}

/** forget()'s mode: delete (the default) or suppress. */
export function checkForgetMode(raw: unknown): 'delete' | 'suppress' {
  const mode = raw ?? 'delete';
  if (mode !== 'delete' && mode !== 'suppress') {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `forget mode must be "delete" or "suppress", got ${JSON.stringify(mode)}`,
    );
  }
  return mode;
}
