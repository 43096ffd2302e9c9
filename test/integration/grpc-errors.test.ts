import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { ERROR_CATALOGUE, EngramError, isEngramError, type ErrorCode } from '../../engine/index.ts';
import { CATEGORY_STATUS } from '../../server/errors.ts';
import {
  ERROR_CODE_METADATA_KEY,
  mapError,
  toErrorResult,
  toGrpcError,
} from '../../server/grpc/grpc-errors.ts';
import {
  namedSpaceId,
  resolveSpaceId,
  SPACE_METADATA_KEY,
} from '../../server/grpc/space-resolution.ts';
import { fromStruct } from '../../proto/engram/v1/well-known.ts';
import { Access } from '../../server/auth/access.ts';
import { authorizeCall } from '../../server/auth/grpc-auth.ts';

test('every engine code maps to the gRPC status of its category, with the code in trailing metadata', () => {
  for (const [code, { category }] of Object.entries(ERROR_CATALOGUE)) {
    const mapped = mapError(new EngramError(code as ErrorCode, `failed: ${code}`));
    assert.equal(mapped.status, CATEGORY_STATUS[category].grpc, code);
    const grpcError = toGrpcError(mapped);
    assert.equal(grpcError.code, CATEGORY_STATUS[category].grpc);
    assert.equal(grpcError.details, `failed: ${code}`);
    assert.deepEqual(grpcError.metadata?.get(ERROR_CODE_METADATA_KEY), [code]);
  }
});

test('the issue’s statuses come out for their categories', () => {
  const expected: Array<[ErrorCode, number]> = [
    ['ENG_CONTENT_INVALID', status.INVALID_ARGUMENT],
    ['ENG_MEMORY_NOT_FOUND', status.NOT_FOUND],
    ['ENG_SPACE_QUARANTINED', status.FAILED_PRECONDITION],
    ['ENG_WRITE_QUEUE_FULL', status.RESOURCE_EXHAUSTED],
    ['ENG_WAL_IO', status.UNAVAILABLE],
    ['ENG_WAL_CORRUPT', status.DATA_LOSS],
    ['ENG_NOT_IMPLEMENTED', status.UNIMPLEMENTED],
    ['ENG_INTERNAL', status.INTERNAL],
  ];
  for (const [code, grpcStatus] of expected) {
    assert.equal(mapError(new EngramError(code, 'x')).status, grpcStatus, code);
  }
});

test('a non-engine error is INTERNAL with its message hidden', () => {
  const mapped = mapError(new TypeError('cannot read secret of undefined'));
  assert.equal(mapped.status, status.INTERNAL);
  assert.equal(mapped.code, 'ENG_INTERNAL');
  assert.equal(mapped.message, 'Internal error');
  assert.equal(mapped.internal, true);
  assert.equal(mapError('a string').message, 'Internal error');
});

test('a stream’s per-message error carries code, message, status and details', () => {
  const result = toErrorResult(
    mapError(new EngramError('ENG_FIELD_INVALID', 'confidence is 2', { details: { field: 'c' } })),
  );
  assert.equal(result.code, 'ENG_FIELD_INVALID');
  assert.equal(result.status, status.INVALID_ARGUMENT);
  assert.equal(result.message, 'confidence is 2');
  assert.deepEqual(fromStruct(result.details), { field: 'c' });
});

function metadata(...spaces: string[]): Metadata {
  const m = new Metadata();
  for (const space of spaces) m.add(SPACE_METADATA_KEY, space);
  // The resolvers refuse a call that was never authorized (auth_mode "none" grants everything).
  authorizeCall(m, Access.open('read'));
  return m;
}

test('space resolution: metadata, else the message, else the default', () => {
  assert.equal(resolveSpaceId(metadata('head'), ['body'], 'default'), 'head');
  assert.equal(resolveSpaceId(metadata(), ['body', undefined, ''], 'default'), 'body');
  assert.equal(resolveSpaceId(metadata(), ['', undefined], 'default'), 'default');
});

test('space resolution refuses x-memory-space sent twice and a message naming two spaces', () => {
  assert.throws(
    () => resolveSpaceId(metadata('one', 'two'), [], 'default'),
    (error) => isEngramError(error, 'ENG_REQUEST_INVALID'),
  );
  assert.throws(
    () => resolveSpaceId(metadata(), ['aaa', 'bbb'], 'default'),
    (error) => isEngramError(error, 'ENG_REQUEST_INVALID'),
  );
  assert.equal(resolveSpaceId(metadata(), ['aaa', 'aaa'], 'default'), 'aaa');
  assert.throws(
    () => resolveSpaceId(metadata(), ['NOPE!'], 'default'),
    (error) => isEngramError(error, 'ENG_SPACE_ID_INVALID'),
  );
});

test('the space a CreateSpace or DeleteSpace acts on must be named, and named once', () => {
  assert.equal(namedSpaceId(metadata(), 'abc'), 'abc');
  assert.equal(namedSpaceId(metadata('abc'), undefined), 'abc');
  assert.equal(namedSpaceId(metadata('abc'), 'abc'), 'abc');
  for (const [m, id] of [
    [metadata(), undefined],
    [metadata(), ''],
    [metadata('abc'), 'xyz'],
  ] as const) {
    assert.throws(
      () => namedSpaceId(m, id),
      (error) => isEngramError(error, 'ENG_REQUEST_INVALID'),
    );
  }
});
