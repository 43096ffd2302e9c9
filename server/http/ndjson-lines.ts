/**
 * Splits a streamed request body into lines (JSON Lines), numbered from 1, without ever
 * buffering more than one line: a line longer than `lineBytesMax` is reported as too long and
 * skipped, never held in memory whole. Empty lines are skipped (but counted).
 */
import type { Readable } from 'node:stream';

export type NdjsonLine =
  { line: number; text: string; tooLong?: false } | { line: number; tooLong: true };

export async function* ndjsonLines(
  body: Readable,
  lineBytesMax: number,
): AsyncGenerator<NdjsonLine> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let line = 0;
  const finish = (): NdjsonLine | undefined => {
    line += 1;
    const text = Buffer.concat(parts).toString('utf8').trim();
    const out: NdjsonLine | undefined = tooLong
      ? { line, tooLong: true }
      : text === ''
        ? undefined
        : { line, text };
    parts = [];
    partBytes = 0;
    tooLong = false;
    return out;
  };
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (!tooLong) {
        partBytes += piece.length;
        if (partBytes > lineBytesMax) {
          tooLong = true;
          parts = [];
        } else parts.push(piece);
      }
      if (newline === -1) break;
      const out = finish();
      if (out) yield out;
      start = newline + 1;
    }
  }
  if (partBytes > 0 || tooLong) {
    const out = finish();
    if (out) yield out;
  }
}
