import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CATALOGUE, ERROR_CATEGORIES, EngramError } from '../../engine/index.ts';
import { CATEGORY_STATUS, toHttpError } from '../../server/errors.ts';

const docs = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** Rows of the codes table: [code, category, meaning], cells trimmed (the table may be padded). */
const rows = docs
  .split('\n')
  .map((line) => line.split('|').map((cell) => cell.trim()))
  .filter((cells) => /^`ENG_[A-Z_]+`$/.test(cells[1] ?? ''))
  .map((cells) => ({ code: cells[1]!.slice(1, -1), category: cells[2] }));

test('every error code is documented in docs/errors.md with its category', () => {
  for (const [code, { category }] of Object.entries(ERROR_CATALOGUE)) {
    const row = rows.find((r) => r.code === code);
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.equal(row.category, category, `${code} is documented with another category`);
  }
});

test('docs/errors.md documents no code the engine does not have', () => {
  assert.ok(rows.length > 0);
  for (const { code } of rows)
    assert.ok(code in ERROR_CATALOGUE, `${code} is documented but not in the catalogue`);
});

test('every category maps to an HTTP status and a gRPC status', () => {
  for (const category of ERROR_CATEGORIES) {
    const status = CATEGORY_STATUS[category];
    assert.ok(status.http >= 400 && status.http < 600, category);
    assert.ok(Number.isInteger(status.grpc) && status.grpc > 0 && status.grpc <= 16, category);
  }
});

test('an engine error keeps its code over HTTP; any other error is internal with its message hidden', () => {
  const mapped = toHttpError(
    new EngramError('ENG_VECTOR_DIM_MISMATCH', 'vector has 3 dimensions, space expects 4', {
      details: { got: 3 },
    }),
  );
  assert.equal(mapped.status, 400);
  assert.deepEqual(mapped.body, {
    error: {
      code: 'ENG_VECTOR_DIM_MISMATCH',
      message: 'vector has 3 dimensions, space expects 4',
      details: { got: 3 },
    },
  });
  const hidden = toHttpError(new Error('secret path /etc/shadow'));
  assert.equal(hidden.status, 500);
  assert.equal(hidden.body.error.code, 'ENG_INTERNAL');
  assert.doesNotMatch(JSON.stringify(hidden.body), /shadow/);
});
