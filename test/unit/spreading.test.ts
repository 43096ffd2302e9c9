/** spreadActivation in isolation: a memory keeps its best activation over every walk. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spreadActivation } from '../../engine/spreading.ts';
import { testRecord } from '../helpers/records.ts';

const record = (id: string) => testRecord(id, { confidence: 1 });

test('a memory reached at an earlier hop and twice at a later one keeps the strongest', () => {
  // a -> x directly (0.2), and a -> b -> x (0.5) and a -> c -> x (0.3) at the second hop: the
  // weaker second-hop walk, found last, must not replace the stronger one.
  const links: Record<string, Array<{ to: string; weight: number }>> = {
    a: [
      { to: 'x', weight: 0.2 },
      { to: 'b', weight: 1 },
      { to: 'c', weight: 1 },
    ],
    b: [{ to: 'x', weight: 0.5 }],
    c: [{ to: 'x', weight: 0.3 }],
  };
  const reached = spreadActivation(
    [{ memory: record('a'), score: 1, parts: {} }],
    { neighbours: (id) => links[id] ?? [], record, accept: () => true },
    { seeds: 1, hops: 2, fanOut: 3, decay: 1 },
  );
  const x = reached.find((hit) => hit.memory.id === 'x');
  assert.equal(x?.score, 0.5);
  assert.deepEqual(x?.path, ['a', 'b', 'x']);
});
