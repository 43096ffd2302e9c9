/**
 * Spreading activation: the best hits of an ordinary recall are the seeds; each passes
 * activation along its outgoing associations (strongest first, at most `fanOut` per memory),
 * multiplied by the edge weight and by `decay` at every hop, for at most `hops` hops. A memory
 * reached several ways keeps its strongest activation and the path that gave it. Negative and
 * zero weights do not spread. Every memory reached must pass the same filters as a direct hit.
 */
import { EngramError } from './errors.ts';
import type { MemoryRecord } from './memory.ts';
import type { ScoredRecord } from './space-recall.ts';

export interface SpreadOptions {
  /** How many of the best direct hits seed the spread. */
  seeds: number;
  hops: number;
  fanOut: number;
  decay: number;
}

export const SPREAD_DEFAULTS: Readonly<SpreadOptions> = Object.freeze({
  seeds: 3,
  hops: 2,
  fanOut: 8,
  decay: 0.5,
});
const SPREAD_LIMITS = { seeds: [1, 50], hops: [1, 4], fanOut: [1, 32] } as const;

export function checkSpreadOptions(raw: Partial<SpreadOptions> | undefined): SpreadOptions {
  const options = { ...SPREAD_DEFAULTS, ...raw };
  for (const key of ['seeds', 'hops', 'fanOut'] as const) {
    const [min, max] = SPREAD_LIMITS[key];
    const value = options[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new EngramError(
        'ENG_QUERY_INVALID',
        `spread.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (typeof options.decay !== 'number' || !(options.decay > 0 && options.decay <= 1)) {
    throw new EngramError(
      'ENG_QUERY_INVALID',
      `spread.decay must be a number in (0, 1], got ${JSON.stringify(options.decay)}`,
    );
  }
  return options;
}

export interface SpreadSources {
  neighbours(id: string): Array<{ to: string; weight: number }>;
  record(id: string): MemoryRecord | undefined;
  accept(record: MemoryRecord): boolean;
}

export type SpreadRecord = ScoredRecord & { path: string[] };

export function spreadActivation(
  seeds: readonly ScoredRecord[],
  sources: SpreadSources,
  options: SpreadOptions,
): SpreadRecord[] {
  const reached = new Map<string, SpreadRecord>();
  let frontier: SpreadRecord[] = seeds.map((seed) => ({ ...seed, path: [seed.memory.id] }));
  for (const seed of frontier) reached.set(seed.memory.id, seed);
  for (let hop = 1; hop <= options.hops && frontier.length > 0; hop++) {
    const next = new Map<string, SpreadRecord>();
    for (const from of frontier) {
      if (from.score <= 0) continue;
      const edges = sources
        .neighbours(from.memory.id)
        .filter((edge) => edge.weight > 0)
        .sort((a, b) => b.weight - a.weight || (a.to < b.to ? -1 : 1))
        .slice(0, options.fanOut);
      for (const { to, weight } of edges) {
        const score = from.score * weight * options.decay;
        // The best so far: from an earlier hop, or from another memory of this hop.
        const earlier = reached.get(to);
        const thisHop = next.get(to);
        const known = thisHop && (!earlier || thisHop.score > earlier.score) ? thisHop : earlier;
        if (known && known.score >= score) continue;
        const memory = known?.memory ?? sources.record(to);
        if (!memory || !sources.accept(memory)) continue;
        next.set(to, {
          memory,
          score,
          parts: { ...(known?.parts ?? {}) },
          path: [...from.path, to],
        });
      }
    }
    for (const [id, record] of next) reached.set(id, record);
    frontier = [...next.values()];
  }
  return [...reached.values()];
}
