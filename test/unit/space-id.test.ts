import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEngramError, parseSpaceId } from '../../engine/index.ts';

test('a valid space id is trimmed and accepted', () => {
  assert.equal(parseSpaceId('  notes_2024-a '), 'notes_2024-a');
  assert.equal(parseSpaceId('abc'), 'abc');
  assert.equal(parseSpaceId('a'.repeat(64)), 'a'.repeat(64));
});

test('invalid space ids fail with ENG_SPACE_ID_INVALID naming the rule', () => {
  const bad: unknown[] = [
    'ab',
    'a'.repeat(65),
    'Notes',
    '../etc',
    'a/b',
    'a\u0000bc',
    'nоtes' /* Cyrillic o */,
    'spаce' /* Cyrillic a */,
    'a\uFF0Fb' /* fullwidth solidus */,
    'a\u2215b' /* division slash */,
    '\uFF0E\uFF0E' /* fullwidth dots */,
    '..',
    'abc/',
    'abc\u0000',
    '',
    'with space',
    'a'.repeat(10_000),
    42,
    null,
    undefined,
  ];
  for (const id of bad) {
    assert.throws(
      () => parseSpaceId(id),
      (error: unknown) =>
        isEngramError(error, 'ENG_SPACE_ID_INVALID') &&
        /3-64 characters of a-z, 0-9/.test(error.message),
      `accepted ${JSON.stringify(id)}`,
    );
  }
});
