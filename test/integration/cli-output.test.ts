/** Human output helpers: aligned tables, "-" for unknown values, a progress bar only on a terminal. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { startProgress } from '../../cli/output/progress.ts';
import { cell, formatTable } from '../../cli/output/table.ts';

test('tables align columns, right-align numbers and show null as "-"', () => {
  const text = formatTable(
    [
      { header: 'Space' },
      { header: 'Memories', align: 'right' },
      { header: 'Pressure', align: 'right' },
    ],
    [
      ['notes', cell(12), cell(null)],
      ['a-much-longer-name', cell(3), cell(0.25)],
    ],
  );
  assert.equal(
    text,
    [
      'Space               Memories  Pressure',
      'notes                     12         -',
      'a-much-longer-name         3     0.250',
    ].join('\n'),
  );
});

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  Object.assign(stream, {
    isTTY,
    columns: 80,
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
  });
  return { stream, written: () => written };
}

test('the progress bar draws on a terminal and writes nothing elsewhere', () => {
  const piped = fakeStream(false);
  const quiet = startProgress('opening spaces', 2, piped.stream);
  quiet.tick('a');
  quiet.tick('b');
  quiet.stop();
  assert.equal(piped.written(), '');

  const tty = fakeStream(true);
  const bar = startProgress('opening spaces', 2, tty.stream);
  bar.tick('notes');
  bar.tick('agents');
  bar.stop();
  assert.match(tty.written(), /opening spaces \[.*\] 2\/2 agents/);
});
