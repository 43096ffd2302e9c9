/**
 * Authentication and authorization for the HTTP front end, as fastify hooks on the root
 * instance (so they cover every route, whichever plugin registers it). Each route's policy
 * comes from route-policy.ts (an undeclared route fails closed).
 * - onRequest authenticates the Authorization header and checks the route's permission, and
 *   for "all" routes that the key covers every space; the request's Access is kept for
 *   HttpContext, which checks the routed space where it resolves it;
 * - onSend refuses to send a success for a "space" route that never had its space checked,
 *   so a route that reaches a space some other way fails loudly instead of open.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EngramError } from '../../engine/index.ts';
import { toHttpError } from '../errors.ts';
import type { Access } from './access.ts';
import type { Authenticator } from './authenticator.ts';
import { declaredHttpPolicy, FAIL_CLOSED_POLICY, type RoutePolicy } from './route-policy.ts';

const accessByRequest = new WeakMap<FastifyRequest, Access>();

interface AccessConfig {
  access?: RoutePolicy;
}

/** The policy a route runs under: its own `config.access`, else the table, else fail closed. */
export function routePolicy(method: string, url: string, config?: unknown): RoutePolicy {
  return (
    (config as AccessConfig | undefined)?.access ??
    declaredHttpPolicy(method, url) ??
    FAIL_CLOSED_POLICY
  );
}

/** What this request may do; set by the onRequest hook (none set: a bug, and nothing is allowed). */
export function accessOf(request: FastifyRequest): Access {
  const access = accessByRequest.get(request);
  if (!access) {
    throw new EngramError('ENG_INTERNAL', 'A route was reached without an authorization check');
  }
  return access;
}

/** The request's Access if authentication ran for it (not for public or unmatched routes). */
export function peekAccess(request: FastifyRequest): Access | undefined {
  return accessByRequest.get(request);
}

/** The policy of the request's route; undefined when no route matched (the 404 handler answers). */
export function policyOf(request: FastifyRequest): RoutePolicy | undefined {
  const url = request.routeOptions.url;
  if (url === undefined) return undefined;
  return routePolicy(request.method, url, request.routeOptions.config);
}

function authorizationHeader(request: FastifyRequest): string | undefined {
  const value = request.headers.authorization;
  return Array.isArray(value) ? value.join(',') : value;
}

export function installHttpAuth(app: FastifyInstance, auth: Authenticator): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const policy = policyOf(request);
    if (policy === undefined || policy.scope === 'public') return;
    const access = await auth.access(authorizationHeader(request), policy.permission);
    if (policy.scope === 'all') access.requireAllSpaces();
    accessByRequest.set(request, access);
  });

  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    const access = accessByRequest.get(request);
    if (!auth.enabled || !access || access.spaceChecked || reply.statusCode >= 400) return payload;
    if (policyOf(request)?.scope !== 'space') return payload;
    request.log.error(
      { route: request.routeOptions.url },
      'a space route answered without checking its space: refused',
    );
    const mapped = toHttpError(new EngramError('ENG_INTERNAL', 'Internal error'));
    void reply.code(mapped.status).header('content-type', 'application/json; charset=utf-8');
    return JSON.stringify(mapped.body);
  });
}
