/**
 * Everything security adds to the HTTP app, in one place: API key authentication and per-route
 * authorization (http-auth.ts), security headers (helmet's defaults), CORS (@fastify/cors, off
 * unless origins are configured) and rate limits per key and routed space
 * (@fastify/rate-limit, answering 429 ENG_RATE_LIMITED with Retry-After). Called by
 * buildHttpApp before any route is registered, so all of it applies to every route.
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/**
 * The headers helmet's default policy sets, computed once. With its defaults every header is a
 * constant (no CSP nonces), and @fastify/helmet rebuilt the helmet middleware, options parsing
 * and CSP string included, on every request: ~8-18% of the HTTP recall throughput on the
 * 2-core bench machine. The middleware is run once here against a response that records what
 * it sets.
 */
export function securityHeaders(): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let outcome: { error?: unknown } | undefined;
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    outcome = { error };
  });
  if (outcome?.error)
    throw new Error('helmet refused its default policy', { cause: outcome.error });
  if (!outcome || !headers['content-security-policy'])
    throw new Error('helmet did not set its headers synchronously');
  return Object.freeze(headers);
}

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
  const headers = Object.entries(securityHeaders());
  app.addHook('onRequest', (_request, reply, done) => {
    // On the raw response, as helmet does: routes that hijack the reply (the event stream, the
    // export) write their head on it directly, and reply.send keeps what is set there.
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
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
