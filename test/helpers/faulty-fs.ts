/**
 * A FileSystem for fault tests: nodeFileSystem underneath, with faults injected where a real
 * disk produces them. A rule picks calls by operation, then by predicate and count, and makes
 * them fail with an errno (ENOSPC, EIO, ...), write fewer bytes than asked (a short write),
 * write a prefix and then fail (a partial write), or wait on a gate first. Every call is
 * recorded in `events`, in order, with the writable handle it went through, so a test can prove
 * for instance that a handle whose datasync failed never synced again.
 *
 * The bottom of the file has `recordingLogger()`, the other half of what a fault test needs:
 * it captures what the engine logs (the per-space `Recovered ...` line in particular).
 */
import {
  nodeFileSystem,
  type FileSystem,
  type Logger,
  type OpenWritableOptions,
  type WritableFile,
} from '../../engine/index.ts';

export type FsOp =
  | 'openWritable'
  | 'write'
  | 'datasync'
  | 'truncate'
  | 'close'
  | 'readFile'
  | 'size'
  | 'readdir'
  | 'mkdir'
  | 'rename'
  | 'unlink'
  | 'rm'
  | 'fsyncDir'
  | 'fsyncFile';

/** One call, as a rule's predicate sees it and as `events` records it. */
export interface FsCall {
  op: FsOp;
  /** The file or directory (for rename: the source). */
  path: string;
  /** rename only: the destination. */
  to?: string;
  /** Calls through a WritableFile: the handle's number, unique for the FaultyFs's life. */
  handle?: number;
  /** write and truncate: the position written at, or the length truncated to. */
  position?: number;
  /** write: bytes asked for. */
  length?: number;
  /** openWritable: the file was opened with O_DSYNC (each write is synced as it returns). */
  dsync?: boolean;
}

export interface FsEvent extends FsCall {
  /** Order of the call among all calls through this FaultyFs (starts at 1). */
  seq: number;
  ok: boolean;
  /** errno code of a failed call (injected or real). */
  errno?: string;
  /** write: bytes actually written. */
  written?: number;
  /** The call failed or was shortened by a rule. */
  injected: boolean;
}

export interface FaultRule {
  op: FsOp;
  /** Only calls for which this holds count for the rule. Default: every call of `op`. */
  when?: (call: FsCall) => boolean;
  /** Matching calls let through untouched before the rule fires. Default 0. */
  skip?: number;
  /** How many matching calls the rule acts on. Default: all of them, until removed. */
  times?: number;
  /** The errno the call fails with (ENOSPC, EIO, EDQUOT, ...). */
  errno?: string;
  /**
   * write only: how many bytes really reach the file. Without `errno` the call then returns
   * this count (a short write); with `errno` it writes them and then fails (a partial write).
   * Clamped to the bytes asked for.
   */
  writeBytes?: number | ((call: FsCall) => number);
  /** The call waits for this first (then fails, shortens or passes as the rule says). */
  gate?: Promise<unknown>;
}

export interface Fault {
  readonly rule: FaultRule;
  /** Matching calls the rule acted on so far. */
  readonly fired: number;
  remove(): void;
}

const ERRNO: Record<string, number> = { EIO: -5, ENOSPC: -28, EDQUOT: -122, EROFS: -30 };

/** An error shaped like the one node:fs throws, so the engine maps it the way it maps a real one. */
export function errnoError(code: string, call: FsCall): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${call.op} '${call.path}'`), {
    code,
    errno: ERRNO[code] ?? -1,
    syscall: call.op,
    path: call.path,
  });
}

class ActiveFault implements Fault {
  fired = 0;
  seen = 0;
  constructor(
    readonly rule: FaultRule,
    private readonly owner: FaultyFs,
  ) {}
  remove(): void {
    this.owner.remove(this);
  }
  /** Counts the call and says whether the rule acts on it. */
  claims(call: FsCall): boolean {
    if (this.rule.op !== call.op || (this.rule.when && !this.rule.when(call))) return false;
    this.seen += 1;
    if (this.seen <= (this.rule.skip ?? 0)) return false;
    if (this.fired >= (this.rule.times ?? Infinity)) return false;
    this.fired += 1;
    return true;
  }
}

export class FaultyFs implements FileSystem {
  readonly events: FsEvent[] = [];
  private faults: ActiveFault[] = [];
  private handles = 0;
  private running = 0;

  constructor(private readonly inner: FileSystem = nodeFileSystem) {}

  inject(rule: FaultRule): Fault {
    const fault = new ActiveFault(rule, this);
    this.faults.push(fault);
    return fault;
  }

  remove(fault: Fault): void {
    this.faults = this.faults.filter((f) => f !== fault);
  }

  /** Removes every rule: from now on every call passes through. */
  clear(): void {
    this.faults = [];
  }

  /** Recorded calls of one operation, optionally only those on paths for which `when` holds. */
  calls(op: FsOp, when: (event: FsEvent) => boolean = () => true): FsEvent[] {
    return this.events.filter((event) => event.op === op && when(event));
  }

  /** Calls started and not finished yet. */
  get inFlight(): number {
    return this.running;
  }

  /**
   * Resolves once no call has been in flight for a whole turn of the event loop: whatever
   * chain of I/O the engine started in the background (a rotation, a cut-back) has finished.
   */
  async settled(): Promise<void> {
    do await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.running > 0);
  }

  /** Every datasync call, failed ones included, in order. */
  get datasyncs(): FsEvent[] {
    return this.calls('datasync');
  }

  /** Runs one call: the first rule that claims it decides; the call is recorded either way. */
  async run<T>(
    call: FsCall,
    real: (rule: FaultRule | undefined, event: FsEvent) => Promise<T>,
  ): Promise<T> {
    const fault = this.faults.find((f) => f.claims(call));
    const rule = fault?.rule;
    const event: FsEvent = { ...call, seq: this.events.length + 1, ok: false, injected: false };
    this.events.push(event);
    this.running += 1;
    try {
      if (rule?.gate) await rule.gate;
      if (rule?.errno !== undefined && !(call.op === 'write' && rule.writeBytes !== undefined)) {
        event.injected = true;
        throw errnoError(rule.errno, call);
      }
      const result = await real(rule, event);
      event.ok = true;
      return result;
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException).code;
      if (errno !== undefined) event.errno = errno;
      throw error;
    } finally {
      this.running -= 1;
    }
  }

  async openWritable(path: string, options?: OpenWritableOptions): Promise<WritableFile> {
    const handle = ++this.handles;
    const dsync = options?.dsync === true;
    const file = await this.run({ op: 'openWritable', path, handle, dsync }, () =>
      this.inner.openWritable(path, options),
    );
    return new FaultyWritableFile(this, file, path, handle);
  }
  readFile(path: string): Promise<Buffer> {
    return this.run({ op: 'readFile', path }, () => this.inner.readFile(path));
  }
  size(path: string): Promise<number | undefined> {
    return this.run({ op: 'size', path }, () => this.inner.size(path));
  }
  readdir(path: string): Promise<string[]> {
    return this.run({ op: 'readdir', path }, () => this.inner.readdir(path));
  }
  mkdir(path: string): Promise<void> {
    return this.run({ op: 'mkdir', path }, () => this.inner.mkdir(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.run({ op: 'rename', path: from, to }, () => this.inner.rename(from, to));
  }
  unlink(path: string): Promise<void> {
    return this.run({ op: 'unlink', path }, () => this.inner.unlink(path));
  }
  rm(path: string): Promise<void> {
    return this.run({ op: 'rm', path }, () => this.inner.rm(path));
  }
  fsyncDir(path: string): Promise<void> {
    return this.run({ op: 'fsyncDir', path }, () => this.inner.fsyncDir(path));
  }
  fsyncFile(path: string): Promise<void> {
    return this.run({ op: 'fsyncFile', path }, () => this.inner.fsyncFile(path));
  }
}

class FaultyWritableFile implements WritableFile {
  constructor(
    private readonly fs: FaultyFs,
    private readonly inner: WritableFile,
    private readonly path: string,
    private readonly handle: number,
  ) {}

  write(data: Uint8Array, position: number): Promise<number> {
    const call: FsCall = {
      op: 'write',
      path: this.path,
      handle: this.handle,
      position,
      length: data.length,
    };
    return this.fs.run(call, async (rule, event) => {
      if (rule?.writeBytes === undefined) {
        event.written = await this.inner.write(data, position);
        return event.written;
      }
      const asked = typeof rule.writeBytes === 'function' ? rule.writeBytes(call) : rule.writeBytes;
      const bytes = Math.max(0, Math.min(data.length, asked));
      // A short write may itself be short underneath; what reached the file is what counts.
      event.written = bytes > 0 ? await this.inner.write(data.subarray(0, bytes), position) : 0;
      event.injected = true;
      if (rule.errno !== undefined) throw errnoError(rule.errno, call);
      return event.written;
    });
  }
  datasync(): Promise<void> {
    return this.fs.run({ op: 'datasync', path: this.path, handle: this.handle }, () =>
      this.inner.datasync(),
    );
  }
  truncate(length: number): Promise<void> {
    return this.fs.run(
      { op: 'truncate', path: this.path, handle: this.handle, position: length },
      () => this.inner.truncate(length),
    );
  }
  close(): Promise<void> {
    return this.fs.run({ op: 'close', path: this.path, handle: this.handle }, () =>
      this.inner.close(),
    );
  }
}

/** A promise a test resolves by hand: hold a call at a gate, then let it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Predicate: the call is on a log segment (`<space>/wal/<lsn>.wal`), of any space or of `space`. */
export function onWal(space?: string): (call: FsCall) => boolean {
  return (call) =>
    call.path.endsWith('.wal') && (space === undefined || call.path.includes(`/${space}/wal/`));
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

export interface Recovery {
  space: string;
  entries: number;
  corrupted: number;
  ms: number;
}

/** A Logger that keeps every line (child bindings merged into the fields). */
export function recordingLogger(): Logger & {
  lines: LogLine[];
  /** The `Recovered '<space>': N entries, M corrupted, took T ms` lines, parsed, in order. */
  recoveries(space?: string): Recovery[];
} {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: LogLine['level']) =>
      (fields: Record<string, unknown>, message: string): void => {
        lines.push({ level, fields: { ...bindings, ...fields }, message });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  const RECOVERED = /^Recovered '([^']+)': (\d+) entries, (\d+) corrupted, took (\d+) ms$/;
  return {
    ...make({}),
    lines,
    recoveries(space) {
      const out: Recovery[] = [];
      for (const { message } of lines) {
        const m = RECOVERED.exec(message);
        if (!m || (space !== undefined && m[1] !== space)) continue;
        out.push({
          space: m[1]!,
          entries: Number(m[2]),
          corrupted: Number(m[3]),
          ms: Number(m[4]),
        });
      }
      return out;
    },
  };
}
