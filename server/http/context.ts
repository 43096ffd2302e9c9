/** What every HTTP route needs: the engine, the server's settings, and space lookup by request. */
import type { FastifyRequest } from 'fastify';
import {
  EngramError,
  parseSpaceId,
  type ServedEngine,
  type SpaceHandle,
  type SpaceId,
} from '../../engine/index.ts';
import type { Access } from '../auth/access.ts';
import { accessOf } from '../auth/http-auth.ts';
import { resolveSpaceId } from './space-routing.ts';

export interface HttpSettings {
  /** The space of a request that names none. */
  defaultSpace: string;
  /** Writes to a space that does not exist create it (bounded by the engine's maxSpaces). */
  autoCreateSpaces: boolean;
  /** Embedder of spaces created by the API when the request names none; null: client vectors only. */
  defaultEmbedder: string | null;
  bodyLimitBytes: number;
  /**
   * Open TCP connections the HTTP server accepts at once (node's server.maxConnections); more
   * are closed by node as soon as they are accepted, before any byte is read.
   */
  maxConnections: number;
  maxBatchItems: number;
  /** Open event streams across all spaces. */
  maxStreamSubscribers: number;
  /** Events a stream may have waiting in its socket before the subscriber is dropped. */
  maxStreamBufferedEvents: number;
  streamHeartbeatMs: number;
  /** Spaces that get their own label in /metrics; the rest are summed under "_other". */
  metricsSpaceLabelsMax: number;
  /**
   * Directory whose .backups/ holds the backups this server makes; null: the embedded
   * backend's data root (a PostgreSQL server has no data root of its own: `engram start`
   * gives its configured data_root).
   */
  backupRoot: string | null;
}

export const HTTP_DEFAULTS: Readonly<HttpSettings> = Object.freeze({
  defaultSpace: 'default',
  autoCreateSpaces: true,
  defaultEmbedder: 'hash',
  bodyLimitBytes: 1024 * 1024,
  maxConnections: 1024,
  maxBatchItems: 256,
  maxStreamSubscribers: 1000,
  maxStreamBufferedEvents: 10_000,
  streamHeartbeatMs: 15_000,
  metricsSpaceLabelsMax: 100,
  backupRoot: null,
});

export class HttpContext {
  constructor(
    readonly engine: ServedEngine,
    readonly settings: Readonly<HttpSettings>,
  ) {}

  /**
   * The space the request is routed to, checked against the request's API key here, where it
   * is resolved: every route that reaches a space through this context is authorized.
   */
  spaceId(request: FastifyRequest): SpaceId {
    return this.authorizeSpace(request, resolveSpaceId(request, this.settings.defaultSpace));
  }

  /** For routes that name their space otherwise (a path parameter, a body id): the same check. */
  authorizeSpace(request: FastifyRequest, id: string): SpaceId {
    const spaceId = parseSpaceId(id);
    accessOf(request).requireSpace(spaceId);
    return spaceId;
  }

  /** What the request's key may see, for listings of spaces. */
  access(request: FastifyRequest): Access {
    return accessOf(request);
  }

  /** The space a write goes to, created on first use when auto-creation is on. */
  async forWrite(request: FastifyRequest): Promise<SpaceHandle> {
    const id = this.spaceId(request);
    if (!(await this.engine.hasSpace(id))) {
      if (!this.settings.autoCreateSpaces) {
        throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}" (auto-creation is off)`);
      }
      const { defaultEmbedder } = this.settings;
      await this.engine.createSpace(id, defaultEmbedder ? { embedder: defaultEmbedder } : {});
    }
    return this.engine.space(id);
  }

  /** The space a read goes to, or undefined when it does not exist (reads never create). */
  async forRead(request: FastifyRequest): Promise<{ id: SpaceId; space: SpaceHandle | undefined }> {
    const id = this.spaceId(request);
    return {
      id,
      space: (await this.engine.hasSpace(id)) ? await this.engine.space(id) : undefined,
    };
  }
}
