/**
 * Loads the engram.v1 contract (the .proto files next to this one) with @grpc/proto-loader, at
 * run time, for the server and the client alike: one set of loader options, so both sides see
 * the same object shapes (messages.ts describes them).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/** The include directory: proto files import each other as "engram/v1/...". */
export const PROTO_DIR = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const SERVICE_PROTO = 'engram/v1/engram_service.proto';
export const SERVICE_NAME = 'engram.v1.EngramService';

/**
 * - keepCase: fields keep their proto names (snake_case, like the HTTP API's JSON);
 * - longs: Number: uint64 fields (LSNs, counts, seconds) are JS numbers, exact below 2^53;
 * - enums: String: enum values are their names ("MEMORY_TYPE_EPISODIC");
 * - defaults: false: a field not on the wire is absent (undefined), so `optional` fields keep
 *   presence; arrays: true: an absent repeated field is [] (never undefined);
 * - no `oneofs`: a oneof is read by which of its fields is present (`stored` or `error`); the
 *   option would also add a synthetic `_name` property for every proto3 `optional` field.
 * google.protobuf.Struct / Value keep protobufjs's camelCase names (numberValue, ...).
 */
export const LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
});

let cached: ServiceDefinition | undefined;

/** The EngramService definition (method paths, serializers), loaded once per process. */
export function engramServiceDefinition(): ServiceDefinition {
  if (!cached) {
    const definition = loadSync(SERVICE_PROTO, { ...LOADER_OPTIONS });
    const service = definition[SERVICE_NAME];
    // A message or enum type has a `format`; a service is a map of method definitions.
    if (!service || 'format' in service) {
      throw new Error(`${SERVICE_PROTO} does not define ${SERVICE_NAME}`);
    }
    cached = service;
  }
  return cached;
}
