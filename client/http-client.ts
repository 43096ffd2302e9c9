/**
 * A small typed client for Engram's HTTP API (docs/http.md). The space of a memory call travels
 * in the X-Memory-Space header, the one the server reads first. An error answer surfaces the
 * server's code and message unchanged; a server that cannot be reached is a distinct error, so
 * callers can tell "refused" from "not there".
 *
 * It depends on nothing but fetch: no engine, no server code.
 */

export interface HttpClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7432 (a trailing slash is fine). */
  baseUrl: string;
  /** Time limit of one request; default 30 s. */
  timeoutMs?: number;
  /** API key (engram_<id>_<secret>), sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
}

/** The server answered with an error body `{ error: { code, message, details? } }`. */
export class EngramHttpError extends Error {
  override readonly name = 'EngramHttpError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message);
  }
}

/** Nothing answered at the URL (refused, unknown host, timed out). */
export class EngramUnreachableError extends Error {
  override readonly name = 'EngramUnreachableError';

  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`Cannot reach the engram server at ${url}: ${reason}`);
  }
}

export type MemoryType = 'episodic' | 'semantic' | 'procedural';
export type RecallMode = 'similarity' | 'lexical' | 'hybrid' | 'spreading';

export interface Memory {
  id: string;
  memory_space: string;
  content: string;
  confidence: number;
  memory_type: MemoryType;
  tags: string[];
  metadata: Record<string, unknown>;
  observed_at: string;
  stored_at: string;
  updated_at: string;
  suppressed: boolean;
  has_embedding: boolean;
  episode?: Record<string, unknown>;
}

export interface RememberInput {
  content: string;
  id?: string;
  confidence?: number;
  memory_type?: MemoryType;
  tags?: string[];
  metadata?: Record<string, unknown>;
  observed_at?: string | number;
  embedding?: number[];
}

export interface Remembered extends Memory {
  memory_id: string;
  lsn: number;
}

export interface RecallInput {
  query?: string;
  embedding?: number[];
  k?: number;
  mode?: RecallMode;
  threshold?: number;
  include_suppressed?: boolean;
  filters?: {
    tags?: string[];
    memory_types?: MemoryType[];
    observed_after?: string | number;
    observed_before?: string | number;
    min_confidence?: number;
  };
}

export interface RecallHit extends Memory {
  score: number;
  parts: Record<string, number | undefined>;
  tier: string;
}

export interface RecallResult {
  memories: RecallHit[];
  memory_space: string;
}

export interface Forgotten {
  memory_id: string;
  memory_space: string;
  mode: 'delete' | 'suppress';
  deleted: boolean;
  suppressed: boolean;
}

export type SpaceState = 'open' | 'closed' | 'quarantined';

export interface SpaceSummary {
  id: string;
  state: SpaceState;
  memories: number | null;
  dimension: number | null;
  reason?: string;
}

export interface SpaceStats {
  id: string;
  state: SpaceState;
  memories: number;
  dimension: number | null;
  last_lsn: number;
  applied_lsn: number;
  indexed_lsn: number;
  snapshot_lsn: number;
  pending_apply: number;
  wal_lag_ms: number;
  index_lag_records: number;
  wal_segments: number;
  wal_bytes: number;
}

export interface SpaceHealth {
  space: string;
  memories: number | null;
  /** Null while not measured (no hot tier yet): never a made-up number. */
  pressure: number | null;
  wal_lag_ms: number | null;
  /** Consolidations per second, or null when not measured. */
  consolidation_rate: number | null;
  state: SpaceState;
  reason?: string;
}

export interface SystemHealth {
  status: 'ok' | 'degraded';
  spaces: SpaceHealth[];
}

interface RequestOptions {
  /** Sent as X-Memory-Space. */
  space?: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/** The error an answer that is not ok stands for: the server's own, or one naming the status. */
export function httpError(
  status: number,
  body: unknown,
  text: string,
  what: string,
): EngramHttpError {
  const error = errorBody(body);
  return error
    ? new EngramHttpError(
        status,
        error.code,
        error.message,
        error.details as Record<string, unknown> | undefined,
      )
    : new EngramHttpError(
        status,
        `HTTP_${status}`,
        `${what} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
        undefined,
      );
}

function errorBody(
  value: unknown,
): { code: string; message: string; details?: unknown } | undefined {
  const error = (value as { error?: unknown } | null)?.error as
    { code?: unknown; message?: unknown; details?: unknown } | undefined;
  return typeof error?.code === 'string' && typeof error.message === 'string'
    ? { code: error.code, message: error.message, details: error.details }
    : undefined;
}

export class EngramHttpClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly apiKey: string | undefined;

  constructor(options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.apiKey = options.apiKey;
  }

  /** Liveness: GET /health. */
  health(): Promise<{ status: string }> {
    return this.request('GET', '/health');
  }

  /** GET /api/v1/system/health, for every space or (filtered on the server) one. */
  systemHealth(options: { space?: string } = {}): Promise<SystemHealth> {
    return this.request('GET', '/api/v1/system/health', { query: { space: options.space } });
  }

  async listSpaces(): Promise<SpaceSummary[]> {
    return (await this.request<{ spaces: SpaceSummary[] }>('GET', '/api/v1/spaces')).spaces;
  }

  /** Idempotent: `created` is false when the space existed. */
  createSpace(input: {
    id: string;
    dimension?: number;
    embedder?: string;
  }): Promise<SpaceStats & { created: boolean }> {
    return this.request('POST', '/api/v1/spaces', { body: input });
  }

  spaceStats(id: string): Promise<SpaceStats> {
    return this.request('GET', `/api/v1/spaces/${encodeURIComponent(id)}`);
  }

  deleteSpace(id: string): Promise<{ id: string; deleted: boolean }> {
    return this.request('DELETE', `/api/v1/spaces/${encodeURIComponent(id)}`);
  }

  remember(space: string, input: RememberInput): Promise<Remembered> {
    return this.request('POST', '/api/v1/memories/remember', { space, body: input });
  }

  recall(space: string, input: RecallInput): Promise<RecallResult> {
    return this.request('POST', '/api/v1/memories/recall', { space, body: input });
  }

  getMemory(space: string, id: string): Promise<Memory> {
    return this.request('GET', `/api/v1/memories/${encodeURIComponent(id)}`, { space });
  }

  forget(
    space: string,
    id: string,
    options: { mode?: 'delete' | 'suppress' } = {},
  ): Promise<Forgotten> {
    return this.request('DELETE', `/api/v1/memories/${encodeURIComponent(id)}`, {
      space,
      query: { mode: options.mode },
    });
  }

  private async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.space !== undefined) headers['x-memory-space'] = options.space;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new EngramUnreachableError(this.baseUrl, reason);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) throw httpError(response.status, body, text, `${method} ${path}`);
    if (body === undefined) {
      throw new EngramHttpError(
        response.status,
        'HTTP_NOT_JSON',
        `${method} ${path} answered HTTP ${response.status} without a JSON body; is ${this.baseUrl} an engram server?`,
        undefined,
      );
    }
    return body as T;
  }
}
