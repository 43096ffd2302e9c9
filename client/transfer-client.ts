/**
 * The streaming calls of Engram's HTTP API that the JSON client (http-client.ts) does not
 * make: backups (create, list, download, restore by name or by upload), export and import of
 * JSON Lines. Bodies stream both ways, so a backup or an export never has to fit in memory.
 * Errors surface exactly as in the JSON client.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EngramUnreachableError, httpError } from './http-client.ts';

export interface BackupInfo {
  name: string;
  space: string;
  lsn: number;
  memories: number;
  bytes: number;
  created_at: string;
}

export interface RestoreResult {
  memory_space: string;
  from_space: string;
  lsn: number;
  memories: number;
  unresolved_associations: number;
  replaced: boolean;
}

export interface ImportResult {
  memory_space: string;
  lines: number;
  imported: number;
  failed: number;
  errors: Array<{ line: number; code: string; message: string }>;
  unresolved_associations: number;
}

/** Called with bytes (or lines) done so far and the total when known. */
export type OnProgress = (done: number, total: number | undefined) => void;

interface Call {
  method: string;
  path: string;
  space?: string;
  query?: Record<string, string | boolean | undefined>;
  json?: unknown;
  /** A streamed body (a file): sent with duplex 'half'. */
  stream?: { body: Readable; type: string; bytes?: number };
}

function counter(
  onProgress: OnProgress | undefined,
  total: number | undefined,
  unit: 'bytes' | 'lines',
): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (unit === 'bytes') done += chunk.length;
      else for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) done += 1;
      onProgress?.(done, total);
      callback(null, chunk);
    },
  });
}

export class EngramTransferClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;

  /** `apiKey`: sent as `Authorization: Bearer` (servers with auth_mode = "api_key"). */
  constructor(options: { baseUrl: string; apiKey?: string }) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
  }

  private async send(call: Call): Promise<Response> {
    const url = new URL(`${this.baseUrl}${call.path}`);
    for (const [name, value] of Object.entries(call.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = {};
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    if (call.space !== undefined) headers['x-memory-space'] = call.space;
    let body: RequestInit['body'];
    if (call.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.json);
    } else if (call.stream) {
      headers['content-type'] = call.stream.type;
      if (call.stream.bytes !== undefined) headers['content-length'] = String(call.stream.bytes);
      body = Readable.toWeb(call.stream.body);
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: call.method,
        headers,
        ...(body === undefined ? {} : { body, duplex: 'half' }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new EngramUnreachableError(
        this.baseUrl,
        cause?.code ?? cause?.message ?? (error as Error).message,
      );
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      throw httpError(response.status, parsed, text, `${call.method} ${call.path}`);
    }
    return response;
  }

  private async json<T>(call: Call): Promise<T> {
    return (await (await this.send(call)).json()) as T;
  }

  private async download(
    call: Call,
    out: Writable,
    onProgress: OnProgress | undefined,
    unit: 'bytes' | 'lines',
    total?: (response: Response) => number | undefined,
  ): Promise<Response> {
    const response = await this.send(call);
    const body = Readable.fromWeb(response.body as unknown as WebReadableStream);
    await pipeline(body, counter(onProgress, total?.(response), unit), out);
    return response;
  }

  async createBackup(space: string): Promise<BackupInfo> {
    return (
      await this.json<{ backup: BackupInfo }>({ method: 'POST', path: '/api/v1/backups', space })
    ).backup;
  }

  async listBackups(): Promise<BackupInfo[]> {
    return (await this.json<{ backups: BackupInfo[] }>({ method: 'GET', path: '/api/v1/backups' }))
      .backups;
  }

  /** Streams a backup kept on the server into a local file. */
  async downloadBackup(name: string, file: string, onProgress?: OnProgress): Promise<void> {
    await this.download(
      { method: 'GET', path: `/api/v1/backups/${encodeURIComponent(name)}` },
      createWriteStream(file),
      onProgress,
      'bytes',
      (r) => Number(r.headers.get('content-length')) || undefined,
    );
  }

  restoreBackupByName(
    name: string,
    options: { as?: string; force?: boolean },
  ): Promise<RestoreResult> {
    return this.json({
      method: 'POST',
      path: `/api/v1/backups/${encodeURIComponent(name)}/restore`,
      json: options,
    });
  }

  /** Uploads a local backup file and restores it. */
  async restoreBackupFile(
    file: string,
    options: { as?: string; force?: boolean },
    onProgress?: OnProgress,
  ): Promise<RestoreResult> {
    const { size } = await stat(file);
    const body = createReadStream(file).pipe(counter(onProgress, size, 'bytes'));
    return this.json({
      method: 'POST',
      path: '/api/v1/backups/restore',
      query: { as: options.as, force: options.force },
      stream: { body, type: 'application/octet-stream', bytes: size },
    });
  }

  /** Streams the memories of a space as JSON Lines into `out`. */
  async exportSpace(
    space: string,
    out: Writable,
    options: { vectors?: boolean; onProgress?: OnProgress } = {},
  ): Promise<{ lsn: number; memories: number }> {
    const response = await this.download(
      {
        method: 'GET',
        path: '/api/v1/export',
        space,
        query: { vectors: options.vectors ?? false },
      },
      out,
      options.onProgress,
      'lines',
      (r) => Number(r.headers.get('x-engram-memories')) || undefined,
    );
    return {
      lsn: Number(response.headers.get('x-engram-lsn')),
      memories: Number(response.headers.get('x-engram-memories')),
    };
  }

  /** Streams a JSON Lines file into a space. */
  async importFile(space: string, file: string, onProgress?: OnProgress): Promise<ImportResult> {
    const { size } = await stat(file);
    const body = createReadStream(file).pipe(counter(onProgress, size, 'bytes'));
    return this.json({
      method: 'POST',
      path: '/api/v1/import',
      space,
      stream: { body, type: 'application/x-ndjson', bytes: size },
    });
  }
}
