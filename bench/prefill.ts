/**
 * Child task "prefill": fills one space of a fresh data root with seeded memories (client
 * vectors, ids m0..m<count-1>), waits until the warm tier and the vector index have applied
 * every record, and closes the registry (index snapshot written, nothing left to replay). The
 * result is a template data root that benchmarks copy or reopen, so what they time never
 * includes the fill.
 */
import { Registry, type RegistryDeps, type SpaceHandle } from '../engine/index.ts';
import { EmbeddingGenerator, type Item } from './data.ts';
import { runChild, sleep } from './lib.ts';

export interface PrefillParams {
  dataRoot: string;
  space: string;
  count: number;
  seed: number;
  dimension: number;
}

export interface PrefillResult {
  memories: number;
  writeMs: number;
  catchUpMs: number;
}

/**
 * Polls stats() until nothing is pending and the index covers the whole log; fails after
 * `timeoutMs` (an applier that stalls must not hang a benchmark for its child's whole timeout).
 */
export async function waitUntilApplied(space: SpaceHandle, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let stats = await space.stats();
  while (stats.pendingApply > 0 || stats.indexedLsn !== stats.lastLsn || stats.indexBacklog > 0) {
    if (performance.now() > deadline) {
      throw new Error(
        `space "${stats.id}" did not catch up within ${timeoutMs} ms: pendingApply ${stats.pendingApply}, ` +
          `appliedLsn ${stats.appliedLsn}, indexedLsn ${stats.indexedLsn}, lastLsn ${stats.lastLsn}, applying ${stats.applying}`,
      );
    }
    await sleep(100);
    stats = await space.stats();
  }
}

/** Stores `items` as `${prefix}${offset + i}`, a chunk of concurrent remember() calls at a time. */
export async function storeItems(
  space: SpaceHandle,
  items: readonly Item[],
  options: { offset?: number; chunk?: number } = {},
): Promise<void> {
  const offset = options.offset ?? 0;
  const chunk = options.chunk ?? 2000;
  for (let from = 0; from < items.length; from += chunk) {
    await Promise.all(
      items.slice(from, from + chunk).map((item, i) =>
        space.remember({
          id: `m${offset + from + i}`,
          content: item.content,
          vector: item.vector,
        }),
      ),
    );
  }
}

/** A registry tuned for bulk loading: no fsync, big groups, room for the whole backlog. */
export function openBulkRegistry(
  dataRoot: string,
  count: number,
  deps: RegistryDeps = {},
): Promise<Registry> {
  return Registry.open(
    {
      dataRoot,
      durability: 'none',
      groupCommitRecordsMax: 4096,
      maxPendingWrites: count + 1024,
      maxUnappliedRecords: count + 1024,
    },
    deps,
  );
}

export async function prefillTask(p: PrefillParams): Promise<PrefillResult> {
  const registry = await openBulkRegistry(p.dataRoot, p.count);
  await registry.createSpace(p.space, { dimension: p.dimension });
  const space = await registry.space(p.space);
  const items = new EmbeddingGenerator({ seed: p.seed, dimension: p.dimension }).take(p.count);
  const started = performance.now();
  await storeItems(space, items);
  const written = performance.now();
  await waitUntilApplied(space);
  const caughtUp = performance.now();
  const { memories } = await space.stats();
  await registry.close();
  return { memories, writeMs: written - started, catchUpMs: caughtUp - written };
}

/** Fills a template data root in a child process ("prefill") and checks what it holds. */
export async function prefillTemplate(p: PrefillParams): Promise<PrefillResult> {
  const filled = await runChild<PrefillResult>(
    'prefill',
    { ...p },
    { profileDir: undefined, timeoutMs: 600_000 },
  );
  if (filled.memories !== p.count) {
    throw new Error(`template holds ${filled.memories} memories, expected ${p.count}`);
  }
  return filled;
}
