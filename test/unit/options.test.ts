import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENGINE_DEFAULTS, isEngramError, validateEngineOptions } from '../../engine/index.ts';

test('defaults apply, ~ expands, and the result is frozen', () => {
  const options = validateEngineOptions({});
  assert.equal(options.dataRoot, join(homedir(), '.local/share/engram'));
  assert.equal(options.durability, 'fsync');
  assert.equal(options.maxSpaces, ENGINE_DEFAULTS.maxSpaces);
  assert.ok(Object.isFrozen(options));
  assert.equal(validateEngineOptions({ dataRoot: '~/x' }).dataRoot, join(homedir(), 'x'));
});

test('unknown keys are rejected, with a hint for a renamed one', () => {
  assert.throws(
    () => validateEngineOptions({ data_root: '/tmp/x' } as never),
    (error: unknown) =>
      isEngramError(error, 'ENG_OPTIONS_INVALID') && /did you mean "dataRoot"/.test(error.message),
  );
  assert.throws(
    () => validateEngineOptions({ nonsense: 1 } as never),
    /Unknown engine option "nonsense"/,
  );
});

test('every integer limit is checked at its boundaries', () => {
  assert.equal(validateEngineOptions({ maxSpaces: 1 }).maxSpaces, 1);
  assert.throws(() => validateEngineOptions({ maxSpaces: 0 }), /maxSpaces/);
  assert.throws(() => validateEngineOptions({ maxOpenSpaces: 1.5 }), /maxOpenSpaces/);
  assert.throws(() => validateEngineOptions({ walSegmentBytesMax: 4095 }), /walSegmentBytesMax/);
  assert.equal(validateEngineOptions({ walSegmentBytesMax: 4096 }).walSegmentBytesMax, 4096);
  assert.throws(() => validateEngineOptions({ durability: 'sometimes' as never }), /durability/);
});
