/**
 * Faults in the cold tier's segment writes (through the FileSystem seam): a failed or partial
 * append or sync fails that demotion batch only. The memories stay warm, nothing is lost or
 * duplicated, the retry a second later starts a fresh segment, and a restart finds every memory once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, type SpaceHandle } from '../../engine/index.ts';
import { FaultyFs, recordingLogger } from '../helpers/faulty-fs.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const onCold = (call: { path: string }) => call.path.includes('/cold/');

async function tiers(space: SpaceHandle): Promise<{ warm: string[]; cold: string[] }> {
  const ids = async (tier: 'warm' | 'cold') =>
    (await space.list({ limit: 100, tier })).memories.map((m) => m.id);
  return { warm: await ids('warm'), cold: await ids('cold') };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

for (const fault of [
  { op: 'write', errno: 'ENOSPC' },
  { op: 'write', errno: 'EIO', writeBytes: 30 },
  { op: 'datasync', errno: 'EIO' },
] as const) {
  test(`${fault.errno} on a cold segment ${fault.op}${'writeBytes' in fault ? ' (partial)' : ''} keeps the memories warm and the next batch goes through`, async () => {
    const dataRoot = await tempDir();
    const fs = new FaultyFs();
    const logger = recordingLogger();
    const options = { dataRoot, warmCapacity: 4 };
    let registry = await Registry.open(options, { fs, logger });
    const injected = fs.inject({ ...fault, when: onCold, times: 1 });
    try {
      await registry.createSpace('faulty-cold', { dimension: 3 });
      const space = await registry.space('faulty-cold');
      for (let i = 0; i < 5; i++)
        await space.remember({ id: `c${i}`, content: `cold ${i}`, vector: [1, i, 2] });
      await until(async () => injected.fired === 1, 'the fault');
      // The failed batch leaves every memory warm; another batch runs a second later.
      await space.remember({ id: 'c5', content: 'cold 5', vector: [1, 5, 2] });
      await until(async () => (await tiers(space)).cold.length > 0, 'a demotion');
      const { warm, cold } = await tiers(space);
      assert.deepEqual([...warm, ...cold].sort(), ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
      await registry.close();
      registry = await Registry.open(options);
      const again = await tiers(await registry.space('faulty-cold'));
      assert.deepEqual([...again.warm, ...again.cold].sort(), ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
      assert.equal(again.warm.filter((id) => again.cold.includes(id)).length, 0);
    } finally {
      await registry.close();
    }
  });
}
