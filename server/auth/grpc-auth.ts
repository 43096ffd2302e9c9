/**
 * Authentication, authorization and rate limits for the gRPC front end. `guardService` wraps
 * every handler of the service: before the handler runs, the call's `authorization` metadata
 * is authenticated and the method's permission checked (route-policy.ts), and the call's grant
 * is kept against its metadata object. space-resolution.ts then checks every space it resolves
 * (for each stream message too) against that grant, so no handler reaches a space without it;
 * a call whose grant is missing is refused (fail closed). Rate limits (rate-limiter-flexible)
 * count per key and space and answer RESOURCE_EXHAUSTED ENG_RATE_LIMITED with `retry-after-ms`.
 */
import type {
  Metadata,
  ServerErrorResponse,
  ServiceDefinition,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { EngramError, parseSpaceId } from '../../engine/index.ts';
import { mapError, toGrpcError } from '../grpc/grpc-errors.ts';
import type { Access } from './access.ts';
import type { Authenticator } from './authenticator.ts';
import { FAIL_CLOSED_POLICY, GRPC_METHOD_POLICIES } from './route-policy.ts';

export const RETRY_AFTER_METADATA_KEY = 'retry-after-ms';

export interface GrpcGuardOptions {
  auth: Authenticator;
  /** Requests per key and space per window; 0: no limit. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
}

/** One call's grant: what its key may do, and its rate limiter. */
interface CallGrant {
  access: Access;
  limiter: RateLimiterMemory | undefined;
}

const grants = new WeakMap<Metadata, CallGrant>();

/**
 * Records what a call may do, against its metadata object. guardService does this for every
 * call before its handler runs; tests of the space resolvers do it to call them directly.
 */
export function authorizeCall(
  metadata: Metadata,
  access: Access,
  limiter?: RateLimiterMemory,
): void {
  grants.set(metadata, { access, limiter });
}

function grantOf(metadata: Metadata): CallGrant {
  const grant = grants.get(metadata);
  if (!grant) {
    throw new EngramError('ENG_INTERNAL', 'A gRPC call was served without an authorization check');
  }
  return grant;
}

/** What the call's key may do (listings filter with it). */
export function callAccess(metadata: Metadata): Access {
  return grantOf(metadata).access;
}

/** Counts one request of this call against its key and `space`; ENG_RATE_LIMITED when over. */
export async function consumeRate(metadata: Metadata, space: string): Promise<void> {
  const { access, limiter } = grantOf(metadata);
  if (!limiter) return;
  try {
    await limiter.consume(`${access.key?.id ?? 'anonymous'}|${space}`);
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error;
    throw new EngramError(
      'ENG_RATE_LIMITED',
      `Too many requests for this key and space; retry in ${error.msBeforeNext} ms`,
      { details: { retry_after_ms: error.msBeforeNext } },
    );
  }
}

function statusError(error: unknown): ServerErrorResponse {
  const grpcError = toGrpcError(mapError(error));
  const retry = error instanceof EngramError ? error.details?.retry_after_ms : undefined;
  if (typeof retry === 'number') grpcError.metadata?.set(RETRY_AFTER_METADATA_KEY, String(retry));
  return grpcError;
}

/** The space a unary call or event stream names at the top level, for its rate-limit bucket. */
function bucketSpace(metadata: Metadata, request: unknown): string {
  const header = metadata.get('x-memory-space')[0];
  const field = (request as { memory_space_id?: string } | undefined)?.memory_space_id;
  try {
    return parseSpaceId(String(header ?? (field || '*')));
  } catch {
    return '?'; // the handler rejects the bad id itself
  }
}

type AnyCall = {
  metadata: Metadata;
  request?: unknown;
  emit(event: 'error', error: unknown): boolean;
};

export function guardService(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  options: GrpcGuardOptions,
): UntypedServiceImplementation {
  const limiter =
    options.rateLimitMax > 0
      ? new RateLimiterMemory({
          points: options.rateLimitMax,
          duration: options.rateLimitWindowMs / 1000,
        })
      : undefined;

  /** Authenticates and authorizes the call; unary calls and event streams count one request. */
  const admit = async (name: string, call: AnyCall, counted: boolean): Promise<void> => {
    const policy = GRPC_METHOD_POLICIES[name] ?? FAIL_CLOSED_POLICY;
    const header = call.metadata.get('authorization')[0];
    const access = await options.auth.access(
      header === undefined ? undefined : String(header),
      policy.permission,
    );
    if (policy.scope === 'all') access.requireAllSpaces();
    authorizeCall(call.metadata, access, limiter);
    if (counted) await consumeRate(call.metadata, bucketSpace(call.metadata, call.request));
  };

  const guarded: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(implementation)) {
    const method = definition[name];
    const bidi = method?.requestStream === true;
    if (method?.responseStream !== true && !bidi) {
      guarded[name] = ((call: AnyCall, callback: (error: unknown) => void) => {
        admit(name, call, true).then(
          () => (handler as (c: AnyCall, cb: unknown) => void)(call, callback),
          (error: unknown) => callback(statusError(error)),
        );
      }) as UntypedHandleCall;
    } else {
      // Streams: a bidirectional stream counts each message where it is routed.
      guarded[name] = ((call: AnyCall) => {
        admit(name, call, !bidi).then(
          () => (handler as (c: AnyCall) => void)(call),
          (error: unknown) => call.emit('error', statusError(error)),
        );
      }) as UntypedHandleCall;
    }
  }
  return guarded;
}
