/** The memory record and the validation of everything a caller can send about one. */
import { EngramError } from './errors.ts';
import type { EngineOptions } from './options.ts';

export const MEMORY_TYPES = ['episodic', 'semantic', 'procedural'] as const;
export type MemoryType = (typeof MEMORY_TYPES)[number];

/** The parts of an episode; each is stored and returned as given. Times are ms since the epoch. */
export interface Episode {
  when?: number;
  what: string;
  where?: string;
  who?: string[];
  why?: string;
  how?: string;
  /** 0..1 */
  importance?: number;
}

export interface MemoryRecord {
  id: string;
  content: string;
  metadata: Record<string, unknown>;
  /** 0..1: how much the memory is to be trusted; weighs into recall scores. */
  confidence: number;
  memoryType: MemoryType;
  tags: string[];
  /** When the remembered thing happened or was observed (ms since the epoch). */
  observedAt: number;
  /** Hidden from recall unless asked for; still readable by id. */
  suppressed: boolean;
  episode?: Episode;
  /** A semantic memory made by consolidation: the episodic memories it cites, and how alike they were (0..1). */
  consolidation?: { sources: string[]; strength: number };
  /** Milliseconds since the epoch when the memory was first stored. */
  storedAt: number;
  /** Milliseconds since the epoch of the last change. */
  updatedAt: number;
  /** LSN of the log record that produced this version. */
  lsn: number;
  hasVector: boolean;
}

export interface RememberInput {
  /** Unique within the space; generated when absent. Storing an existing id replaces it. */
  id?: string;
  /** Required unless `episode` is given (then it defaults to the episode's text). */
  content?: string;
  vector?: Float32Array | readonly number[];
  metadata?: Record<string, unknown>;
  /** Default 0.7. */
  confidence?: number;
  /** Default "semantic", or "episodic" for an episode. */
  memoryType?: MemoryType;
  tags?: readonly string[];
  /** ms since the epoch or an ISO 8601 string; default now. */
  observedAt?: number | string;
  episode?: Omit<Episode, 'when'> & { when?: number | string };
}

export interface MemoryPatch {
  /** Only the engine sets this (when a cited memory is deleted); callers cannot. */
  consolidation?: { sources: string[]; strength: number };
  content?: string;
  metadata?: Record<string, unknown>;
  confidence?: number;
  memoryType?: MemoryType;
  tags?: string[];
  suppressed?: boolean;
}

/** A memory as read: the record plus its access statistics (kept outside the log). */
export interface MemoryView extends MemoryRecord {
  /** Set by remember() when the new memory was merged into this existing one (space dedup). */
  deduplicated?: true;
  accessCount: number;
  /** ms since the epoch of the last recall that returned it; null if never recalled */
  lastAccess: number | null;
}

export interface RecallHit {
  memory: MemoryView;
  /**
   * Relevance weighed by confidence (see engine/space-recall.ts). Relevance is the cosine in
   * similarity mode, BM25 relative to the best hit in lexical mode, their blend in hybrid.
   */
  score: number;
  /** What the score was made of, plus the memory's activation at recall time. */
  parts: { similarity?: number; lexical?: number; confidence: number; activation: number };
  /**
   * Where the memory was when recalled: hot (in-memory cache), warm (LMDB or its log tail) or
   * cold (it is then promoted back to warm).
   */
  tier: 'hot' | 'warm' | 'cold';
  /** spreading mode: the memory ids from the seed hit to this one (just the seed for a seed). */
  path?: string[];
}

export const RECALL_MODES = ['similarity', 'lexical', 'hybrid', 'spreading'] as const;
export type RecallMode = (typeof RECALL_MODES)[number];

export interface ListPage {
  memories: MemoryView[];
  /** Pass as `after` to get the next page; undefined on the last page. */
  nextCursor: string | undefined;
}

type Limits = Pick<
  EngineOptions,
  'maxContentBytes' | 'maxMetadataBytes' | 'maxMemoryIdChars' | 'maxDimensions'
>;

// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export function validateMemoryId(raw: unknown, limits: Limits): string {
  if (
    typeof raw !== 'string' ||
    raw.length === 0 ||
    raw.length > limits.maxMemoryIdChars ||
    CONTROL_CHARS.test(raw)
  ) {
    throw new EngramError(
      'ENG_MEMORY_ID_INVALID',
      `Memory id must be a string of 1-${limits.maxMemoryIdChars} characters without control characters`,
    );
  }
  return raw;
}

export function validateContent(raw: unknown, limits: Limits): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new EngramError('ENG_CONTENT_INVALID', 'Memory content must be a non-empty string');
  }
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes > limits.maxContentBytes) {
    throw new EngramError(
      'ENG_CONTENT_INVALID',
      `Memory content is ${bytes} bytes, more than max_content_bytes (${limits.maxContentBytes})`,
    );
  }
  return raw;
}

export function validateMetadata(raw: unknown, limits: Limits): Record<string, unknown> {
  if (raw === undefined) return {};
  const proto: unknown =
    raw !== null && typeof raw === 'object' ? Object.getPrototypeOf(raw) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new EngramError('ENG_METADATA_INVALID', 'Metadata must be a JSON object');
  }
  let json: string;
  try {
    json = JSON.stringify(raw);
  } catch (cause) {
    throw new EngramError('ENG_METADATA_INVALID', 'Metadata must be serialisable as JSON', {
      cause,
    });
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > limits.maxMetadataBytes) {
    throw new EngramError(
      'ENG_METADATA_INVALID',
      `Metadata is ${bytes} bytes of JSON, more than max_metadata_bytes (${limits.maxMetadataBytes})`,
    );
  }
  // A JSON round trip drops undefined, functions and class instances: what is stored is what a client reads back.
  return JSON.parse(json) as Record<string, unknown>;
}

/** Copies into a fresh Float32Array after checking length, finiteness and a non-zero norm (cosine needs one). */
export function validateVector(raw: unknown, limits: Limits): Float32Array {
  if (!(raw instanceof Float32Array) && !Array.isArray(raw)) {
    throw new EngramError('ENG_VECTOR_INVALID', 'Vector must be an array of numbers');
  }
  const values = raw as ArrayLike<unknown>;
  if (values.length === 0 || values.length > limits.maxDimensions) {
    throw new EngramError(
      'ENG_VECTOR_INVALID',
      `Vector has ${values.length} dimensions; allowed are 1 to ${limits.maxDimensions}`,
    );
  }
  // A Float32Array is copied whole (memcpy); numbers are checked for type, then stored.
  const typed = raw instanceof Float32Array;
  const out = typed ? raw.slice() : new Float32Array(values.length);
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    if (!typed) {
      const v = values[i];
      if (typeof v !== 'number') throw notFinite(i);
      out[i] = v;
    }
    // The stored float32 value: NaN, infinities and doubles past float32's range fail here, and
    // 1e-50 passes as a double but stores as 0.
    const stored = out[i]!;
    if (!Number.isFinite(stored)) throw notFinite(i);
    norm += stored * stored;
  }
  if (norm === 0)
    throw new EngramError(
      'ENG_VECTOR_INVALID',
      'Vector has zero length; cosine similarity needs a direction',
    );
  return out;
}

function notFinite(element: number): EngramError {
  return new EngramError(
    'ENG_VECTOR_INVALID',
    `Vector element ${element} is not a finite 32-bit number`,
  );
}

/** The sum of squares of a vector, summed in order in a double, as cosineSimilarity sums it. */
export function squaredNorm(v: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return sum;
}

/**
 * cosineSimilarity(a, b) from both squared norms (squaredNorm): one product per dimension
 * instead of three, and the same result. The exact scan of the memtable runs this per entry.
 */
export function cosineWithNorms(
  a: Float32Array,
  aSquaredNorm: number,
  b: Float32Array,
  bSquaredNorm: number,
): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot / Math.sqrt(aSquaredNorm * bSquaredNorm);
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
}
