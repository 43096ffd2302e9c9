/** What every gRPC handler needs: the registry, the settings, the logger, and space lookup. */
import {
  EngramError,
  type Logger,
  type Registry,
  type SpaceHandle,
  type SpaceId,
} from '../../engine/index.ts';
import type { GrpcSettings } from './grpc-settings.ts';

export class GrpcContext {
  constructor(
    readonly registry: Registry,
    readonly settings: Readonly<GrpcSettings>,
    readonly logger: Logger,
  ) {}

  /** The space a write goes to, created on first use (with the default embedder) when allowed. */
  async forWrite(id: SpaceId): Promise<SpaceHandle> {
    if (!this.registry.has(id)) {
      if (!this.settings.autoCreateSpaces) {
        throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}" (auto-creation is off)`);
      }
      const { defaultEmbedder } = this.settings;
      await this.registry.createSpace(id, defaultEmbedder ? { embedder: defaultEmbedder } : {});
    }
    return this.registry.space(id);
  }

  /** The space a read goes to, or undefined when it does not exist (reads never create). */
  async forRead(id: SpaceId): Promise<SpaceHandle | undefined> {
    return this.registry.has(id) ? this.registry.space(id) : undefined;
  }
}
