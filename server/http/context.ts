/** What every HTTP route needs: the engine, the server's settings, and space lookup by request. */
import type { FastifyRequest } from 'fastify';
import {
  EngramError,
  type ServedEngine,
  type SpaceHandle,
  type SpaceId,
} from '../../engine/index.ts';
import { resolveSpaceId } from './space-routing.ts';

export interface HttpSettings {
  /** The space of a request that names none. */
  defaultSpace: string;
  /** Writes to a space that does not exist create it (bounded by the engine's maxSpaces). */
  autoCreateSpaces: boolean;
  /** Embedder of spaces created by the API when the request names none; null: client vectors only. */
  defaultEmbedder: string | null;
  bodyLimitBytes: number;
  maxBatchItems: number;
  /** Open event streams across all spaces. */
  maxStreamSubscribers: number;
  /** Events a stream may have waiting in its socket before the subscriber is dropped. */
  maxStreamBufferedEvents: number;
  streamHeartbeatMs: number;
  /** Spaces that get their own label in /metrics; the rest are summed under "_other". */
  metricsSpaceLabelsMax: number;
}

export const HTTP_DEFAULTS: Readonly<HttpSettings> = Object.freeze({
  defaultSpace: 'default',
  autoCreateSpaces: true,
  defaultEmbedder: 'hash',
  bodyLimitBytes: 1024 * 1024,
  maxBatchItems: 256,
  maxStreamSubscribers: 1000,
  maxStreamBufferedEvents: 10_000,
  streamHeartbeatMs: 15_000,
  metricsSpaceLabelsMax: 100,
});

export class HttpContext {
  constructor(
    readonly engine: ServedEngine,
    readonly settings: Readonly<HttpSettings>,
  ) {}

  spaceId(request: FastifyRequest): SpaceId {
    return resolveSpaceId(request, this.settings.defaultSpace);
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
