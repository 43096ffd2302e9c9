/**
 * Everything security adds to the HTTP app, in one place: API key authentication and per-route
 * authorization (http-auth.ts), security headers (@fastify/helmet), CORS (@fastify/cors, off
 * unless origins are configured) and rate limits per key and routed space
 * (@fastify/rate-limit, answering 429 ENG_RATE_LIMITED with Retry-After). Called by
 * buildHttpApp before any route is registered, so all of it applies to every route.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EngramError } from '../../engine/index.ts';
import { resolveSpaceId } from '../http/space-routing.ts';
import { Authenticator } from './authenticator.ts';
import { installHttpAuth, peekAccess, policyOf } from './http-auth.ts';

export interface SecuritySettings {
  auth: Authenticator;
  /** Origins allowed to call the API from a browser; empty: CORS off (no CORS headers). */
  corsOrigins: readonly string[];
  /** Requests per key and space per window; 0: no limit. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
}

export const SECURITY_DEFAULTS: Readonly<Omit<SecuritySettings, 'auth'>> = Object.freeze({
  corsOrigins: [],
  rateLimitMax: 0,
  rateLimitWindowMs: 60_000,
});

/** Who is asking (key id, or the client address when auth is off) and which space. */
function rateLimitKey(request: FastifyRequest, defaultSpace: string): string {
  let space = '*';
  if (policyOf(request)?.scope === 'space') {
    try {
      space = resolveSpaceId(request, defaultSpace);
    } catch {
      space = '?'; // the handler answers the bad space id itself
    }
  }
  // The key was authenticated in onRequest, before this preHandler hook runs.
  const key = peekAccess(request)?.key;
  return `${key ? `key:${key.id}` : `ip:${request.ip}`}|${space}`;
}

export function installHttpSecurity(
  app: FastifyInstance,
  settings: Partial<SecuritySettings>,
  defaultSpace: string,
): SecuritySettings {
  const resolved: SecuritySettings = {
    ...SECURITY_DEFAULTS,
    auth: Authenticator.none(),
    ...settings,
  };
  void app.register(helmet, { global: true });
  if (resolved.corsOrigins.length > 0) {
    void app.register(cors, {
      // "*" allows any origin (keys travel in a header, never in cookies); else exact origins.
      origin: resolved.corsOrigins.includes('*') ? '*' : [...resolved.corsOrigins],
      allowedHeaders: ['authorization', 'content-type', 'x-memory-space', 'last-event-id'],
    });
  }
  if (resolved.rateLimitMax > 0) {
    void app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: resolved.rateLimitMax,
      timeWindow: resolved.rateLimitWindowMs,
      allowList: (request) => policyOf(request)?.scope === 'public',
      keyGenerator: (request) => rateLimitKey(request, defaultSpace),
      errorResponseBuilder: (_request, context) =>
        new EngramError(
          'ENG_RATE_LIMITED',
          `More than ${context.max} requests in ${resolved.rateLimitWindowMs} ms for this key and space; retry in ${context.after}`,
          { details: { retry_after_ms: context.ttl } },
        ),
    });
  }
  installHttpAuth(app, resolved.auth);
  return resolved;
}
