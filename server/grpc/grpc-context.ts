/** What every gRPC handler needs: the engine, the settings, the logger, and space lookup. */
import {
  EngramError,
  type Logger,
  type ServedEngine,
  type SpaceHandle,
  type SpaceId,
} from '../../engine/index.ts';
import type { GrpcSettings } from './grpc-settings.ts';

export class GrpcContext {
  constructor(
    readonly engine: ServedEngine,
    readonly settings: Readonly<GrpcSettings>,
    readonly logger: Logger,
  ) {}

  /** The space a write goes to, created on first use (with the default embedder) when allowed. */
  async forWrite(id: SpaceId): Promise<SpaceHandle> {
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
  async forRead(id: SpaceId): Promise<SpaceHandle | undefined> {
    return (await this.engine.hasSpace(id)) ? this.engine.space(id) : undefined;
  }
}
