import assert from 'node:assert/strict';
import type { SpaceHandle } from '../../engine/index.ts';

type Stats = Awaited<ReturnType<SpaceHandle['stats']>>;

/**
 * Waits until the space has applied every durable record (nothing pending, no applier running)
 * and `until` holds; fails the test after ~5 s. `everyMs` is the polling interval.
 */
export async function settled(
  space: SpaceHandle,
  until: (s: Stats) => boolean = () => true,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const stats = await space.stats();
    if (stats.pendingApply === 0 && !stats.applying && until(stats)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  assert.fail(`space did not settle (${String(until)}): ${JSON.stringify(await space.stats())}`);
}
