/**
 * google.protobuf.Struct and Timestamp <-> plain JSON objects and milliseconds since the epoch.
 * Used by the server to read and write messages and by the client to build and read them.
 */
import type { Struct, Timestamp, Value } from './messages.ts';

/** A JSON object as a Struct. Keys whose value is undefined are left out (as JSON does). */
export function toStruct(object: Record<string, unknown>): Struct {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined) fields[key] = toValue(value);
  }
  return { fields };
}

export function toValue(value: unknown): Value {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  switch (typeof value) {
    case 'number':
      return { numberValue: value };
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'object':
      if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
      return { structValue: toStruct(value as Record<string, unknown>) };
    default:
      // bigint, function, symbol: not JSON. Sent as null, as JSON.stringify would.
      return { nullValue: 'NULL_VALUE' };
  }
}

/** A Struct as a JSON object (an absent Struct is {}). */
export function fromStruct(struct: Struct | undefined | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = fromValue(value);
  return out;
}

export function fromValue(value: Value | undefined): unknown {
  if (!value) return null;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return fromStruct(value.structValue);
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(fromValue);
  return null;
}

/** Milliseconds since the epoch as a Timestamp. */
export function toTimestamp(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** A Timestamp as milliseconds since the epoch (sub-millisecond parts are dropped). */
export function fromTimestamp(timestamp: Timestamp): number {
  return (timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
}
