/**
 * The permission every HTTP route and gRPC method needs, declared in one table, and what the
 * space check looks like for it:
 * - space:   the route reaches one space, resolved by HttpContext / space-resolution.ts, which
 *            checks it against the key; the route must resolve one before it answers;
 * - listing: the route lists spaces; it shows only those the key may use;
 * - all:     the route reaches every space (metrics, backups by name, keys): a key for "*" only;
 * - key:     any valid key (the API description);
 * - public:  no key (liveness and readiness).
 * A route missing from the table needs admin on every space (fail closed), and the BOLA test
 * fails until it is declared. A route may also declare its own in `config.access`.
 */
import type { Permission } from './api-key.ts';

export type SpaceScope = 'space' | 'listing' | 'all' | 'key' | 'public';

export interface RoutePolicy {
  permission: Permission;
  scope: SpaceScope;
}

const p = (permission: Permission, scope: SpaceScope): RoutePolicy =>
  Object.freeze({ permission, scope });

export const FAIL_CLOSED_POLICY = p('admin', 'all');

export const HTTP_ROUTE_POLICIES: Readonly<Record<string, RoutePolicy>> = Object.freeze({
  'GET /health': p('read', 'public'),
  'GET /health/ready': p('read', 'public'),
  'POST /api/v1/memories/remember': p('write', 'space'),
  'POST /api/v1/memories/remember/batch': p('write', 'space'),
  'POST /api/v1/episodes/remember': p('write', 'space'),
  'GET /api/v1/memories/recall': p('read', 'space'),
  'POST /api/v1/memories/recall': p('read', 'space'),
  'GET /api/v1/memories': p('read', 'space'),
  'GET /api/v1/memories/:id': p('read', 'space'),
  'PATCH /api/v1/memories/:id': p('write', 'space'),
  'DELETE /api/v1/memories/:id': p('write', 'space'),
  'GET /api/v1/memories/:id/associations': p('read', 'space'),
  'POST /api/v1/memories/:id/associations': p('write', 'space'),
  'GET /api/v1/stream/memories': p('read', 'space'),
  'GET /api/v1/consolidations': p('read', 'space'),
  'POST /api/v1/consolidations/run': p('write', 'space'),
  'GET /api/v1/export': p('read', 'space'),
  'POST /api/v1/import': p('write', 'space'),
  'GET /api/v1/spaces': p('read', 'listing'),
  'GET /api/v1/system/health': p('read', 'listing'),
  'GET /api/v1/spaces/:id': p('read', 'space'),
  'POST /api/v1/spaces': p('admin', 'space'),
  'DELETE /api/v1/spaces/:id': p('admin', 'space'),
  'POST /api/v1/backups': p('admin', 'space'),
  'GET /api/v1/backups': p('admin', 'all'),
  'GET /api/v1/backups/:name': p('admin', 'all'),
  'POST /api/v1/backups/:name/restore': p('admin', 'all'),
  'POST /api/v1/backups/restore': p('admin', 'all'),
  'GET /metrics': p('admin', 'all'),
  'GET /api/v1/keys': p('admin', 'all'),
  'POST /api/v1/keys': p('admin', 'all'),
  'DELETE /api/v1/keys/:id': p('admin', 'all'),
  'GET /openapi.json': p('read', 'key'),
  // CORS preflight (@fastify/cors, when origins are configured): browsers send it without keys.
  'OPTIONS *': p('read', 'public'),
});

/** Swagger UI serves many static files under this prefix: one policy for all of them. */
const DOCS_PREFIX = '/docs';
const DOCS_POLICY = p('read', 'key');

/** The declared policy of a route, or undefined (then FAIL_CLOSED_POLICY applies). */
export function declaredHttpPolicy(method: string, url: string): RoutePolicy | undefined {
  const verb = method === 'HEAD' ? 'GET' : method;
  const declared = HTTP_ROUTE_POLICIES[`${verb} ${url}`];
  if (declared) return declared;
  if (url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`)) return DOCS_POLICY;
  return undefined;
}

/** Every RPC of engram.v1.EngramService. */
export const GRPC_METHOD_POLICIES: Readonly<Record<string, RoutePolicy>> = Object.freeze({
  Remember: p('write', 'space'),
  Store: p('write', 'space'),
  Recall: p('read', 'space'),
  Forget: p('write', 'space'),
  GetMemory: p('read', 'space'),
  StreamingRemember: p('write', 'space'),
  StreamingRecall: p('read', 'space'),
  Stream: p('read', 'space'),
  CreateSpace: p('admin', 'space'),
  DeleteSpace: p('admin', 'space'),
  ListSpaces: p('read', 'listing'),
  Health: p('read', 'listing'),
  CreateApiKey: p('admin', 'all'),
  ListApiKeys: p('admin', 'all'),
  RevokeApiKey: p('admin', 'all'),
});
