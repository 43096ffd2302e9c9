/** The JSON Lines splitter of imports: chunk boundaries, numbering, and the line length bound. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { ndjsonLines, type NdjsonLine } from '../../server/http/ndjson-lines.ts';

async function lines(chunks: string[], max = 16): Promise<NdjsonLine[]> {
  const out: NdjsonLine[] = [];
  for await (const line of ndjsonLines(Readable.from(chunks.map((c) => Buffer.from(c))), max))
    out.push(line);
  return out;
}

test('lines split across chunks come out whole, numbered from 1, blank ones skipped', async () => {
  assert.deepEqual(await lines(['{"a"', ':1}\n\n{"b":2}\r', '\n{"c"', ':3}']), [
    { line: 1, text: '{"a":1}' },
    { line: 3, text: '{"b":2}' },
    { line: 4, text: '{"c":3}' },
  ]);
});

test('a line longer than the bound is reported, not buffered, and the next line still counts', async () => {
  const long = 'x'.repeat(40);
  assert.deepEqual(await lines(['ok\n', long.slice(0, 20), long.slice(20), '\nafter\n', long]), [
    { line: 1, text: 'ok' },
    { line: 2, tooLong: true },
    { line: 3, text: 'after' },
    { line: 4, tooLong: true },
  ]);
  // Exactly at the bound is fine.
  assert.deepEqual(await lines(['y'.repeat(16)]), [{ line: 1, text: 'y'.repeat(16) }]);
});
