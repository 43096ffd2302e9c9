/**
 * `engram start`'s recovery step: creates the configured bootstrap spaces that do not exist
 * and opens (recovers) each, before the server listens, with a progress bar on a terminal.
 * Other spaces recover on first use; a space whose recovery fails is quarantined and reported,
 * and the server starts anyway.
 */
import { isEngramError, type ServedEngine } from '../engine/index.ts';
import type { Progress } from './output/progress.ts';

export interface OpenedSpace {
  id: string;
  created: boolean;
  state: 'open' | 'quarantined';
  memories: number | null;
  /** Recovery (open) time. */
  ms: number;
  reason?: string;
}

export async function openBootstrapSpaces(
  engine: ServedEngine,
  ids: readonly string[],
  options: { embedder: string | null; progress: Progress },
): Promise<OpenedSpace[]> {
  const out: OpenedSpace[] = [];
  for (const id of new Set(ids)) {
    const created = (await engine.hasSpace(id))
      ? false
      : (await engine.createSpace(id, options.embedder ? { embedder: options.embedder } : {}))
          .created;
    const started = performance.now();
    try {
      const stats = await (await engine.space(id)).stats();
      out.push({
        id,
        created,
        state: 'open',
        memories: stats.memories,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (!isEngramError(error, 'ENG_SPACE_QUARANTINED')) throw error;
      const reason =
        typeof error.details?.reason === 'string' ? error.details.reason : error.message;
      out.push({ id, created, state: 'quarantined', memories: null, ms: 0, reason });
    }
    options.progress.tick(id);
  }
  options.progress.stop();
  return out;
}
