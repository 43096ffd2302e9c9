/**
 * Consolidation: related episodic memories are grouped into one semantic memory that cites
 * them by id, with a strength (how alike they are: the mean cosine of the sources to their
 * centroid). The semantic memory is written through the log like any other memory, so it is
 * as durable as one; its content is the most central episode's text and its vector is the
 * normalised centroid. Episodes already cited by a consolidation are not grouped again.
 *
 * Grouping is greedy: for each uncited episode (newest first, at most `candidatesMax`), its
 * nearest neighbours (from the vector index and the not-yet-indexed tail) that are uncited
 * episodes at cosine >= `similarity` form a group; groups of at least `minSources` are kept.
 */
import { EngramError } from './errors.ts';
import { randomUUID } from 'node:crypto';
import { cosineSimilarity, type MemoryRecord } from './memory.ts';

export interface ConsolidationOptions {
  /** Cosine a neighbour needs to join a group. */
  similarity: number;
  minSources: number;
  maxSources: number;
  candidatesMax: number;
}

export const CONSOLIDATION_DEFAULTS: Readonly<ConsolidationOptions> = Object.freeze({
  similarity: 0.8,
  minSources: 3,
  maxSources: 20,
  candidatesMax: 2000,
});

export function checkConsolidationOptions(
  raw: Partial<ConsolidationOptions> = {},
): ConsolidationOptions {
  const options = { ...CONSOLIDATION_DEFAULTS, ...raw };
  if (
    typeof options.similarity !== 'number' ||
    !(options.similarity > 0 && options.similarity <= 1)
  ) {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `similarity must be in (0, 1], got ${JSON.stringify(options.similarity)}`,
    );
  }
  const ints: Array<[keyof ConsolidationOptions, number, number]> = [
    ['minSources', 2, 1000],
    ['maxSources', 2, 1000],
    ['candidatesMax', 1, 1_000_000],
  ];
  for (const [key, min, max] of ints) {
    const value = options[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new EngramError(
        'ENG_QUERY_INVALID',
        `${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (options.maxSources < options.minSources) {
    throw new EngramError('ENG_QUERY_INVALID', 'maxSources must be at least minSources');
  }
  return options;
}

export interface Episodic {
  record: MemoryRecord;
  vector: Float32Array;
}

export interface PlannedConsolidation {
  sources: string[];
  strength: number;
  content: string;
  vector: Float32Array;
  observedAt: number;
  confidence: number;
}

/**
 * Plans groups among `candidates` (uncited episodic memories with vectors). `neighbours`
 * returns the ids most similar to a vector, best first.
 */
export async function planConsolidations(
  candidates: readonly Episodic[],
  neighbours: (vector: Float32Array, count: number) => string[] | Promise<string[]>,
  options: ConsolidationOptions,
): Promise<PlannedConsolidation[]> {
  const byId = new Map(candidates.map((c) => [c.record.id, c]));
  const used = new Set<string>();
  const plans: PlannedConsolidation[] = [];
  const ordered = [...candidates]
    .sort((a, b) => b.record.observedAt - a.record.observedAt)
    .slice(0, options.candidatesMax);
  for (const seed of ordered) {
    if (used.has(seed.record.id)) continue;
    const group = [seed];
    for (const id of await neighbours(seed.vector, options.maxSources * 4)) {
      if (group.length >= options.maxSources) break;
      const other = byId.get(id);
      if (!other || used.has(id) || other === seed) continue;
      if (cosineSimilarity(seed.vector, other.vector) >= options.similarity) group.push(other);
    }
    if (group.length < options.minSources) continue;
    for (const member of group) used.add(member.record.id);
    plans.push(plan(group));
  }
  return plans;
}

function plan(group: readonly Episodic[]): PlannedConsolidation {
  const dimension = group[0]!.vector.length;
  const centroid = new Float32Array(dimension);
  for (const { vector } of group) {
    let norm = 0;
    for (const v of vector) norm += v * v;
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dimension; i++) centroid[i]! += vector[i]! * scale;
  }
  const similarities = group.map(({ vector }) => cosineSimilarity(centroid, vector));
  const central = group[similarities.indexOf(Math.max(...similarities))]!;
  let norm = 0;
  for (const v of centroid) norm += v * v;
  for (let i = 0; i < dimension; i++) centroid[i]! /= Math.sqrt(norm);
  return {
    sources: group.map((g) => g.record.id).sort(),
    strength: similarities.reduce((a, b) => a + b, 0) / similarities.length,
    content: central.record.content,
    vector: centroid,
    observedAt: Math.max(...group.map((g) => g.record.observedAt)),
    confidence: group.reduce((n, g) => n + g.record.confidence, 0) / group.length,
  };
}

/** The semantic memory a planned consolidation becomes (its LSN is the backend's to give). */
export function consolidatedRecord(
  plan: PlannedConsolidation,
  now: number,
): Omit<MemoryRecord, 'lsn'> {
  return {
    id: randomUUID(),
    content: plan.content,
    metadata: {},
    confidence: plan.confidence,
    memoryType: 'semantic',
    tags: [],
    observedAt: plan.observedAt,
    suppressed: false,
    consolidation: { sources: plan.sources, strength: plan.strength },
    storedAt: now,
    updatedAt: now,
    hasVector: true,
  };
}

/** Consolidations per second over a sliding window, from the times they were made. */
export class RateMeter {
  private readonly times: number[] = [];

  constructor(private readonly windowMs: number) {}

  mark(count: number, at: number): void {
    for (let i = 0; i < count; i++) this.times.push(at);
  }

  perSecond(now: number): number {
    while (this.times.length > 0 && this.times[0]! < now - this.windowMs) this.times.shift();
    return this.times.length / (this.windowMs / 1000);
  }
}

/**
 * Which consolidated memories cite each memory, so a hard delete can purge its citations.
 * Derived state like the lexical index: built from the space on first use, then kept current.
 */
export class Citations {
  private readonly citedBy = new Map<string, Set<string>>();
  private readonly cites = new Map<string, readonly string[]>();

  set(consolidatedId: string, sources: readonly string[] | undefined): void {
    this.drop(consolidatedId);
    if (!sources || sources.length === 0) return;
    this.cites.set(consolidatedId, sources);
    for (const source of sources) {
      let set = this.citedBy.get(source);
      if (!set) {
        set = new Set();
        this.citedBy.set(source, set);
      }
      set.add(consolidatedId);
    }
  }

  /** Forgets what `consolidatedId` cites. */
  drop(consolidatedId: string): void {
    for (const source of this.cites.get(consolidatedId) ?? []) {
      const set = this.citedBy.get(source);
      if (set?.delete(consolidatedId) && set.size === 0) this.citedBy.delete(source);
    }
    this.cites.delete(consolidatedId);
  }

  citersOf(source: string): string[] {
    return [...(this.citedBy.get(source) ?? [])];
  }

  isCited(source: string): boolean {
    return this.citedBy.has(source);
  }

  /** Every consolidated memory, with what it cites. */
  all(): IterableIterator<[string, readonly string[]]> {
    return this.cites.entries();
  }
}
