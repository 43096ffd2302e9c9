/**
 * validateVector (engine/memory.ts): a client vector is copied (never kept by reference) and
 * refused unless every element is a finite 32-bit number and it has a direction, whether it
 * arrives as a Float32Array (the in-process API) or as numbers (JSON and gRPC).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateVector } from '../../engine/memory.ts';

const LIMITS = {
  maxContentBytes: 1024,
  maxMetadataBytes: 1024,
  maxMemoryIdChars: 64,
  maxDimensions: 4,
};

const refused = (raw: unknown, message: RegExp) =>
  assert.throws(
    () => validateVector(raw, LIMITS),
    (error: Error & { code?: string }) =>
      error.code === 'ENG_VECTOR_INVALID' && message.test(error.message),
  );

test('a Float32Array is copied, a view only as far as it reaches', () => {
  const backing = new Float32Array([9, 1, 2, 3, 9]);
  const view = backing.subarray(1, 4);
  const out = validateVector(view, LIMITS);
  assert.deepEqual(Array.from(out), [1, 2, 3]);
  view[0] = 7;
  assert.equal(out[0], 1, 'the stored vector does not follow later changes to the input');
  assert.notEqual(out.buffer, backing.buffer);
});

test('NaN, infinities and zero vectors are refused in either form', () => {
  for (const make of [(v: number[]) => Float32Array.from(v), (v: number[]) => v]) {
    refused(make([1, Number.NaN]), /element 1 is not a finite/);
    refused(make([Number.POSITIVE_INFINITY, 1]), /element 0 is not a finite/);
    refused(make([0, 0, 0]), /zero length/);
    refused(make([]), /0 dimensions/);
    refused(make([1, 2, 3, 4, 5]), /5 dimensions/);
  }
  // Finite as doubles, not as 32-bit numbers: 1e39 overflows, 1e-50 rounds to 0.
  refused([1e39, 1], /element 0 is not a finite/);
  refused([1e-50, 0], /zero length/);
  refused([1, '2'], /element 1 is not a finite/);
  refused('1,2', /must be an array/);
});
