/**
 * The registry of spaces under one data root. At start it only lists directories (no replay,
 * no writes); a space is opened (and recovered) on first use or eagerly by option, at most
 * maxOpenSpaces stay open (the least recently used idle one closes), and a space that fails
 * recovery is quarantined while every other space keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DataRootLock } from './data-root-lock.ts';
import { EngramError, ioError, isEngramError } from './errors.ts';
import { nodeFileSystem, type FileSystem } from './file-system.ts';
import { SILENT_LOGGER, type Logger } from './logger.ts';
import { IndexHost } from './vector/index-host.ts';
import { LocalSpace } from './local-space.ts';
import type { SpaceSettings } from './space-settings.ts';
import { checkCreateSpace } from './create-space-options.ts';
import { EventHub, type SpaceEvent, type SpaceEventListener } from './events.ts';
import { EmbedderCatalog, type EmbedderFactory } from './embed/embedder-catalog.ts';
import { validateEngineOptions, type EngineOptions } from './options.ts';
import { isValidSpaceId, parseSpaceId, type SpaceId } from './space-id.ts';
import { SPACE_FORMAT_VERSION, SPACE_META_FILE, writeSpaceMeta } from './space-meta.ts';
import type {
  CreateSpaceOptions,
  DiscoveryReport,
  ServedEngine,
  SpaceHandle,
  SpaceSummary,
} from './storage.ts';
import { LocalSpaceHandle } from './space-handle.ts';
import { BACKUP_DIR } from './backup/backup-format.ts';

type SlotState = 'closed' | 'opening' | 'open' | 'closing' | 'quarantined' | 'deleting';

interface Slot {
  id: SpaceId;
  state: SlotState;
  space: LocalSpace | undefined;
  transition: Promise<void> | undefined;
  refs: number;
  lastUsed: number;
  reason: string | undefined;
}

export interface RegistryDeps {
  fs?: FileSystem;
  logger?: Logger;
  /** Embedders beyond the built-in "hash", by name. */
  embedders?: Record<string, EmbedderFactory>;
}

const TRASH = '.trash';
/** Where the server keeps API keys (server/auth/file-key-store.ts uses the same name). */
export const KEYS_DIR = '.keys';
const TEMP_PREFIX = '.tmp-';

export class Registry implements ServedEngine {
  readonly backend = 'lmdb' as const;
  private readonly slots = new Map<SpaceId, Slot>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly creating = new Map<SpaceId, Promise<{ id: SpaceId; created: boolean }>>();
  private clock = 0;
  /** Slots in state 'open' (kept by setState). */
  private openSpaces = 0;
  private lock: DataRootLock | undefined;
  private closed = false;
  discovery: DiscoveryReport = { spaces: 0, skipped: [], ms: 0 };
  private readonly events = new EventHub();
  private readonly indexes: IndexHost;

  private constructor(
    readonly options: Readonly<EngineOptions>,
    private readonly fs: FileSystem,
    private readonly logger: Logger,
    readonly embedders: EmbedderCatalog,
  ) {
    this.indexes = IndexHost.shared(options.indexThreads);
  }

  static async open(options: Partial<EngineOptions>, deps: RegistryDeps = {}): Promise<Registry> {
    const registry = new Registry(
      validateEngineOptions(options),
      deps.fs ?? nodeFileSystem,
      deps.logger ?? SILENT_LOGGER,
      new EmbedderCatalog(deps.embedders),
    );
    await registry.discover();
    for (const id of registry.options.eagerSpaces) {
      const spaceId = parseSpaceId(id);
      if (registry.slots.has(spaceId))
        await registry.withSpace(spaceId, () => undefined).catch(() => undefined);
    }
    return registry;
  }

  /** Lists the data root: one readdir plus one stat per entry, nothing opened, nothing replayed. */
  private async discover(): Promise<void> {
    const started = performance.now();
    const root = this.options.dataRoot;
    await this.fs.mkdir(root);
    this.lock = DataRootLock.acquire(root);
    // The lock, the server's backup directory (engine/backup/backup-store.ts) and its API key
    // directory (KEYS_DIR, server/auth/file-key-store.ts) are not spaces.
    const names = (await this.fs.readdir(root)).filter(
      (name) => name !== 'engram.lock' && name !== BACKUP_DIR && name !== KEYS_DIR,
    );
    const skipped: DiscoveryReport['skipped'] = [];
    const candidates: string[] = [];
    for (const name of names) {
      if (name === TRASH || name.startsWith(TEMP_PREFIX)) {
        // A delete or a create interrupted by a crash: never visible as a space, finish removing it.
        this.track(this.fs.rm(join(root, name)));
      } else if (!isValidSpaceId(name)) {
        skipped.push({ name, reason: 'name is not a valid space id' });
      } else {
        candidates.push(name);
      }
    }
    const sizes = await Promise.all(
      candidates.map((name) =>
        this.fs.size(join(root, name, SPACE_META_FILE)).catch(() => undefined),
      ),
    );
    candidates.forEach((name, i) => {
      if (sizes[i] === undefined) skipped.push({ name, reason: `no ${SPACE_META_FILE}` });
      else this.slots.set(name as SpaceId, newSlot(name as SpaceId));
    });
    for (const skip of skipped)
      this.logger.warn(
        { component: 'registry', ...skip },
        'skipped a directory that is not a space',
      );
    this.discovery = {
      spaces: this.slots.size,
      skipped,
      ms: Math.round(performance.now() - started),
    };
    this.logger.info(
      {
        component: 'registry',
        spaces: this.slots.size,
        skipped: skipped.length,
        ms: this.discovery.ms,
      },
      'spaces discovered',
    );
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) =>
      this.logger.warn({ err: error }, 'background removal failed'),
    );
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  private spaceDir(id: SpaceId): string {
    return join(this.options.dataRoot, id);
  }

  private assertOpen(): void {
    if (this.closed) throw new EngramError('ENG_SPACE_CLOSED', 'The registry is closed');
  }

  async createSpace(
    rawId: string,
    options: CreateSpaceOptions = {},
  ): Promise<{ id: SpaceId; created: boolean }> {
    this.assertOpen();
    const {
      id,
      dimension: fixed,
      embedder,
      settings,
    } = checkCreateSpace(rawId, options, this.options, this.embedders);
    const running = this.creating.get(id);
    if (running) return running.then(() => ({ id, created: false }));
    const work = this.doCreate(id, fixed, embedder, settings).finally(() =>
      this.creating.delete(id),
    );
    this.creating.set(id, work);
    return work;
  }

  private async doCreate(
    id: SpaceId,
    dimension: number | null,
    embedder: string | null,
    settings: SpaceSettings,
  ): Promise<{ id: SpaceId; created: boolean }> {
    const existing = this.slots.get(id);
    if (existing?.state === 'deleting') await existing.transition;
    if (this.slots.has(id)) return { id, created: false };
    this.checkSpaceLimit(id);
    // Build the whole directory under a temp name and rename it into place: a crash leaves either
    // no space or a complete one, never a half-made directory that looks like a space.
    const temp = await this.stageSpaceDir(id, dimension, embedder, settings);
    await this.publishSpaceDir(temp, id);
    this.logger.info({ component: 'registry', space: id }, 'space created');
    return { id, created: true };
  }

  private checkSpaceLimit(id: SpaceId): void {
    if (this.slots.size >= this.options.maxSpaces) {
      throw new EngramError(
        'ENG_SPACE_LIMIT_REACHED',
        `Cannot create space "${id}": ${this.slots.size} spaces exist and max_spaces is ${this.options.maxSpaces}`,
      );
    }
  }

  /** A new space directory under a temp name (removed at the next start if never published). */
  private async stageSpaceDir(
    id: SpaceId,
    dimension: number | null,
    embedder: string | null,
    settings: SpaceSettings,
  ): Promise<string> {
    const temp = join(
      this.options.dataRoot,
      `${TEMP_PREFIX}${id}-${randomBytes(4).toString('hex')}`,
    );
    await this.fs.mkdir(join(temp, 'wal'));
    await this.fs.mkdir(join(temp, 'index'));
    await writeSpaceMeta(this.fs, temp, {
      format_version: SPACE_FORMAT_VERSION,
      id,
      created_at: new Date().toISOString(),
      dimension,
      embedder,
      settings: { ...settings },
    });
    await this.fs.fsyncDir(temp);
    return temp;
  }

  /** One rename makes a staged directory the space `id`; the data root is synced after it. */
  private async publishSpaceDir(temp: string, id: SpaceId): Promise<void> {
    await this.fs.rename(temp, this.spaceDir(id));
    await this.fs.fsyncDir(this.options.dataRoot);
    this.slots.set(id, newSlot(id));
  }

  /**
   * Builds a space off to the side and publishes it with one rename (restore): `fill` loads it
   * while it sits in a `.tmp-` directory that nobody can reach and that the next start removes
   * if a crash interrupts, so a restore is all or nothing. An existing space is replaced only
   * with `replace` (deleted durably just before the rename); its events are not published.
   */
  async buildSpace(
    rawId: string,
    create: CreateSpaceOptions,
    fill: (space: LocalSpace) => Promise<void>,
    options: { replace?: boolean } = {},
  ): Promise<{ id: SpaceId; replaced: boolean }> {
    this.assertOpen();
    const checked = checkCreateSpace(rawId, create, this.options, this.embedders);
    const { id } = checked;
    const refuse = (): EngramError =>
      new EngramError(
        'ENG_SPACE_EXISTS',
        `Space "${id}" exists: restore with --as NEW_ID, or --force to replace it`,
        { details: { space: id } },
      );
    if (this.has(id) && !options.replace) throw refuse();
    if (!this.has(id)) this.checkSpaceLimit(id);
    const temp = await this.stageSpaceDir(
      id,
      checked.dimension,
      checked.embedder,
      checked.settings,
    );
    try {
      const space = await LocalSpace.open({
        id,
        dir: temp,
        options: this.options,
        fs: this.fs,
        logger: this.logger.child({ space: id, staged: true }),
        embedders: this.embedders,
        events: new EventHub(),
        indexes: this.indexes,
      });
      try {
        await fill(space);
      } finally {
        await space.close();
      }
      const replaced = this.has(id);
      if (replaced && !options.replace) throw refuse();
      if (replaced) await this.deleteSpace(id);
      if (this.has(id)) throw refuse(); // created while this one was built
      await this.publishSpaceDir(temp, id);
      this.logger.info({ component: 'registry', space: id, replaced }, 'space built and published');
      return { id, replaced };
    } catch (error) {
      await this.fs.rm(temp).catch(() => undefined);
      throw error;
    }
  }

  async space(rawId: string): Promise<SpaceHandle> {
    this.assertOpen();
    const id = parseSpaceId(rawId);
    this.requireSlot(id);
    return new LocalSpaceHandle(id, (fn) => this.withSpace(id, fn));
  }

  has(rawId: string): boolean {
    const slot = this.slots.get(parseSpaceId(rawId));
    return slot !== undefined && slot.state !== 'deleting';
  }

  hasSpace(rawId: string): Promise<boolean> {
    return Promise.resolve(this.has(rawId));
  }

  get location(): string {
    return this.options.dataRoot;
  }

  private requireSlot(id: SpaceId): Slot {
    const slot = this.slots.get(id);
    if (!slot || slot.state === 'deleting')
      throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}"`);
    return slot;
  }

  /** Runs `fn` on the open space, opening it if needed; the space cannot close while `fn` runs. */
  async withSpace<T>(id: SpaceId, fn: (space: LocalSpace) => T | Promise<T>): Promise<T> {
    this.assertOpen();
    const slot = this.requireSlot(id);
    const space = await this.acquire(slot);
    const run = (async () => {
      try {
        return await fn(space);
      } finally {
        slot.refs -= 1;
        slot.lastUsed = ++this.clock;
        this.evictIdle();
      }
    })();
    this.inflight.add(run);
    void run.catch(() => undefined).finally(() => this.inflight.delete(run));
    return run;
  }

  private async acquire(slot: Slot): Promise<LocalSpace> {
    for (;;) {
      switch (slot.state) {
        case 'open':
          if (slot.space!.needsReopen && slot.refs === 0) {
            this.logger.warn({ space: slot.id }, 'reopening space after a log write failure');
            void this.beginClose(slot);
            continue;
          }
          slot.refs += 1; // taken synchronously, so eviction cannot pick this slot before fn runs
          return slot.space!;
        case 'opening':
        case 'closing':
          await slot.transition;
          continue;
        case 'closed':
          this.beginOpen(slot);
          continue;
        case 'quarantined':
          throw new EngramError(
            'ENG_SPACE_QUARANTINED',
            `Space "${slot.id}" is quarantined: ${slot.reason}`,
            { details: { reason: slot.reason } },
          );
        case 'deleting':
          throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${slot.id}"`);
      }
    }
  }

  /**
   * Opens (recovers) a space. Damage (category data_loss: a corrupt log, an unreadable LMDB or
   * space.json) quarantines it; any other failure (an I/O error, say) leaves it closed and fails
   * the calls waiting for it, so the next call tries again.
   */
  private beginOpen(slot: Slot): void {
    this.setState(slot, 'opening');
    const logger = this.logger.child({ space: slot.id });
    const opened = LocalSpace.open({
      id: slot.id,
      dir: this.spaceDir(slot.id),
      options: this.options,
      fs: this.fs,
      logger,
      embedders: this.embedders,
      events: this.events,
      indexes: this.indexes,
    }).then(
      (space) => {
        slot.space = space;
        // A delete that began meanwhile keeps its state; it closes this space once it runs.
        if (slot.state !== 'opening') return;
        this.setState(slot, 'open');
        slot.lastUsed = ++this.clock;
        this.evictIdle();
      },
      (error: unknown) => {
        const deleting = slot.state !== 'opening';
        if (isEngramError(error) && error.category === 'data_loss') {
          if (!deleting) this.setState(slot, 'quarantined');
          slot.reason = error.message;
          this.logger.error({ space: slot.id, err: error }, 'space quarantined: recovery failed');
          return;
        }
        if (!deleting) this.setState(slot, 'closed');
        this.logger.error({ space: slot.id, err: error }, 'opening space failed');
        throw isEngramError(error) ? error : ioError(`Cannot open space "${slot.id}"`, error);
      },
    );
    opened.catch(() => undefined); // waiters see the error; nobody waiting is not a crash
    slot.transition = opened;
  }

  private beginClose(slot: Slot): Promise<void> {
    const space = slot.space!;
    this.setState(slot, 'closing');
    slot.transition = space
      .close()
      .catch((error: unknown) =>
        this.logger.warn({ space: slot.id, err: error }, 'closing space failed'),
      )
      .finally(() => {
        slot.space = undefined;
        if (slot.state === 'closing') this.setState(slot, 'closed');
      });
    return slot.transition;
  }

  /** Moves a slot to `state`, keeping the count of open spaces. */
  private setState(slot: Slot, state: SlotState): void {
    if (slot.state === 'open') this.openSpaces -= 1;
    if (state === 'open') this.openSpaces += 1;
    slot.state = state;
  }

  /** Closes the least recently used idle spaces while more than maxOpenSpaces are open. */
  private evictIdle(): void {
    // Runs after every call, so it must not walk the slots (there may be 100,000) unless over.
    let open = this.openSpaces;
    while (open > this.options.maxOpenSpaces) {
      let victim: Slot | undefined;
      for (const slot of this.slots.values()) {
        if (
          slot.state === 'open' &&
          slot.refs === 0 &&
          (!victim || slot.lastUsed < victim.lastUsed)
        )
          victim = slot;
      }
      if (!victim) return; // every open space is busy: close one when it is released
      void this.beginClose(victim);
      open -= 1;
    }
  }

  /**
   * Live events of one space, and (with `afterLsn`) the ones after that id still in its log,
   * each delivered once and in LSN order. Subscribing does not open the space unless replay is
   * asked for; the subscription survives the space closing as idle and reopening.
   */
  async subscribe(
    rawId: string,
    listener: SpaceEventListener,
    options: { afterLsn?: number; replayLimit?: number } = {},
  ): Promise<() => void> {
    this.assertOpen();
    const id = parseSpaceId(rawId);
    this.requireSlot(id);
    if (options.afterLsn === undefined) return this.events.subscribe(id, listener);
    // Listen first and hold live events back, so nothing falls between the replay and live.
    const held: SpaceEvent[] = [];
    let replaying = true;
    let last = options.afterLsn;
    const deliver = (event: SpaceEvent): void => {
      if (event.lsn <= last) return;
      last = event.lsn;
      listener(event);
    };
    const unsubscribe = this.events.subscribe(id, (event) =>
      replaying ? held.push(event) : deliver(event),
    );
    try {
      const afterLsn = options.afterLsn;
      const replayed = await this.withSpace(id, (space) =>
        space.eventsAfter(afterLsn, options.replayLimit ?? 10_000),
      );
      for (const event of replayed) deliver(event);
      for (const event of held) deliver(event);
      replaying = false;
      return unsubscribe;
    } catch (error) {
      unsubscribe();
      throw error;
    }
  }

  /** Subscribers across all spaces (for limits and metrics). */
  subscriberCount(): number {
    return this.events.subscriberCount();
  }

  async listSpaces(options: { counts?: boolean } = {}): Promise<SpaceSummary[]> {
    this.assertOpen();
    const counts = options.counts ?? true;
    const out: SpaceSummary[] = [];
    for (const id of [...this.slots.keys()].sort()) {
      const slot = this.slots.get(id)!;
      if (slot.state === 'deleting') continue;
      if (slot.state === 'quarantined') {
        out.push({
          id,
          state: 'quarantined',
          memories: null,
          dimension: null,
          reason: slot.reason ?? 'unknown',
        });
      } else if (!counts) {
        out.push({
          id,
          state: slot.state === 'open' ? 'open' : 'closed',
          memories: null,
          dimension: slot.space?.stats().dimension ?? null,
        });
      } else {
        try {
          const stats = await this.withSpace(id, (space) => space.stats());
          out.push({ id, state: 'open', memories: stats.memories, dimension: stats.dimension });
        } catch (error) {
          if ((slot.state as SlotState) !== 'quarantined') throw error;
          out.push({
            id,
            state: 'quarantined',
            memories: null,
            dimension: null,
            reason: slot.reason ?? 'unknown',
          });
        }
      }
    }
    return out;
  }

  /**
   * Durable delete: the directory is renamed into <data_root>/.trash in one atomic step (the
   * tombstone), the rename is fsynced, and only then are the files removed. A crash at any point
   * leaves either the whole space or no space; leftovers in .trash are removed at the next start.
   */
  async deleteSpace(rawId: string): Promise<boolean> {
    this.assertOpen();
    const id = parseSpaceId(rawId);
    const slot = this.slots.get(id);
    if (!slot || slot.state === 'deleting') return false;
    const previous = slot.transition;
    this.setState(slot, 'deleting');
    slot.transition = (async () => {
      await previous?.catch(() => undefined);
      while (slot.refs > 0) await Promise.allSettled([...this.inflight]);
      if (slot.space)
        await slot.space
          .close()
          .catch((error: unknown) =>
            this.logger.warn({ space: id, err: error }, 'closing deleted space failed'),
          );
      slot.space = undefined;
      const trash = join(this.options.dataRoot, TRASH);
      await this.fs.mkdir(trash);
      const target = join(trash, `${id}-${Date.now()}-${randomBytes(4).toString('hex')}`);
      await this.fs.rename(this.spaceDir(id), target);
      // Both directory entries change: the space's name leaves the data root, a new one enters .trash.
      await this.fs.fsyncDir(this.options.dataRoot);
      await this.fs.fsyncDir(trash);
      this.slots.delete(id);
      this.track(this.fs.rm(target));
      this.logger.info({ component: 'registry', space: id }, 'space deleted');
    })();
    try {
      await slot.transition;
    } catch (error) {
      // The rename did not happen: the space is still whole, so it stays visible (as closed).
      if (this.slots.get(id) === slot) this.setState(slot, 'closed');
      throw error;
    }
    return true;
  }

  /** Waits for in-flight calls, closes every open space (each drains and checkpoints) and finishes removals. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    await Promise.allSettled(
      [...this.slots.values()].map((slot) => slot.transition ?? Promise.resolve()),
    );
    await Promise.allSettled(
      [...this.slots.values()]
        .filter((slot) => slot.state === 'open')
        .map((slot) => this.beginClose(slot)),
    );
    await Promise.allSettled([...this.background]);
    this.lock?.release();
  }
}

function newSlot(id: SpaceId): Slot {
  return {
    id,
    state: 'closed',
    space: undefined,
    transition: undefined,
    refs: 0,
    lastUsed: 0,
    reason: undefined,
  };
}
