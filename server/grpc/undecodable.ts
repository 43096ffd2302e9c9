/**
 * Requests that are not valid protobuf. grpc-js answers a request its deserializer throws on
 * with INTERNAL, which tells a client the server failed; it is the client's bytes that are bad.
 * The service definition is served with a deserializer that never throws: an undecodable
 * request becomes a marker object, and checkDecoded() (called first by every handler: unary
 * calls, each stream message, event streams) turns it into INVALID_ARGUMENT.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { EngramError } from '../../engine/index.ts';

const UNDECODABLE = Symbol('engram.undecodable-request');

interface Undecodable {
  [UNDECODABLE]: string;
}

export function tolerantDefinition(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return { [UNDECODABLE]: (error as Error).message } satisfies Undecodable;
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/** Throws ENG_REQUEST_INVALID when `request` is the marker of an undecodable message. */
export function checkDecoded(request: unknown): void {
  if (typeof request === 'object' && request !== null && UNDECODABLE in request) {
    const reason = (request as Undecodable)[UNDECODABLE].slice(0, 200);
    throw new EngramError(
      'ENG_REQUEST_INVALID',
      `The request is not a valid protobuf message for this method (${reason})`,
    );
  }
}
