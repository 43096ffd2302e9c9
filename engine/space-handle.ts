import type { LocalSpace } from './local-space.ts';
import type { ListPage, MemoryPatch, MemoryView, RecallHit, RememberInput } from './memory.ts';
import type { SpaceId } from './space-id.ts';
import type { LoadReport } from './space-load.ts';
import type { SnapshotMemory, SpaceSnapshot } from './space-snapshot.ts';
import type {
  CallOptions,
  ConsolidationSettings,
  ForgetOptions,
  ListOptions,
  RecallOptions,
  SpaceHandle,
  SpaceStats,
} from './storage.ts';

type Run = <T>(fn: (space: LocalSpace) => T | Promise<T>) => Promise<T>;

/**
 * A handle bound to one space for its whole life. It holds no open resources: each call asks
 * the registry for the open space (opening it again if it was closed as idle).
 */
export class LocalSpaceHandle implements SpaceHandle {
  constructor(
    readonly id: SpaceId,
    private readonly run: Run,
  ) {}

  remember(input: RememberInput, options?: CallOptions): Promise<MemoryView> {
    return this.run((space) => space.remember(input, options));
  }
  get(id: string): Promise<MemoryView | undefined> {
    return this.run((space) => space.get(id));
  }
  getVector(id: string): Promise<Float32Array | undefined> {
    return this.run((space) => space.getVector(id));
  }
  update(id: string, patch: MemoryPatch, options?: CallOptions): Promise<MemoryView> {
    return this.run((space) => space.update(id, patch, options));
  }
  forget(id: string, options?: ForgetOptions): Promise<boolean> {
    return this.run((space) => space.forget(id, options));
  }
  associate(from: string, to: string, weight: number, options?: CallOptions): Promise<void> {
    return this.run((space) => space.associate(from, to, weight, options));
  }
  associations(id: string): Promise<Array<{ to: string; weight: number }>> {
    return this.run((space) => space.associations(id));
  }
  recall(
    query: string | Float32Array | readonly number[],
    options: RecallOptions,
  ): Promise<RecallHit[]> {
    return this.run((space) => space.recall(query, options));
  }
  list(options: ListOptions): Promise<ListPage> {
    return this.run((space) => space.list(options));
  }
  stats(): Promise<SpaceStats> {
    return this.run((space) => space.stats());
  }
  consolidate(
    options?: Partial<ConsolidationSettings>,
  ): Promise<Array<{ memoryId: string; sources: string[]; strength: number }>> {
    return this.run((space) => space.consolidate(options));
  }
  consolidations(limit: number): Promise<MemoryView[]> {
    return this.run((space) => space.consolidations(limit));
  }
  /** The space stays open (not evicted as idle) until `fn` settles. */
  snapshot<T>(fn: (snapshot: SpaceSnapshot) => Promise<T>): Promise<T> {
    return this.run((space) => space.snapshot(fn));
  }
  load(items: readonly SnapshotMemory[], options?: CallOptions): Promise<LoadReport> {
    return this.run((space) => space.load(items, options));
  }
  loadLinks(
    links: ReadonlyArray<{ from: string; to: string; weight: number }>,
  ): Promise<{ unresolved: LoadReport['unresolved']; lsn: number }> {
    return this.run((space) => space.loadLinks(links));
  }
}
