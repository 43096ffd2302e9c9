/**
 * GET /api/v1/export and POST /api/v1/import: the memories of one space (routed like every
 * request) as JSON Lines, read from one consistent snapshot; import streams its body, bounded
 * in line length and line count, is idempotent by id (importing a file twice gives the same
 * state), applies every valid line and reports each bad one with its line number.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  EngramError,
  isEngramError,
  type LoadReport,
  type SnapshotMemory,
  type SpaceHandle,
} from '../../engine/index.ts';
import type { HttpContext } from './context.ts';
import { ndjsonLines } from './ndjson-lines.ts';
import { addStreamParser, writeOrWait } from './raw-stream.ts';
import { memoryFromLine, memoryToLine } from './transfer-wire.ts';

export const TRANSFER_LIMITS = Object.freeze({
  /** Longest import line: 64 KiB content + 16 KiB metadata + a 4096-float vector fit easily. */
  lineBytesMax: 4 * 1024 * 1024,
  linesMax: 1_000_000,
  /** Per-line errors listed in the answer (all are counted). */
  errorsListedMax: 1000,
  batchItems: 256,
});

const NDJSON = ['application/x-ndjson', 'application/jsonl', 'application/octet-stream'];

const exportQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { space: { type: 'string' }, vectors: { type: 'boolean' } },
} as const;

async function exportSpace(
  space: SpaceHandle,
  reply: FastifyReply,
  vectors: boolean,
): Promise<void> {
  await space.snapshot(async (snapshot) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'x-engram-space': snapshot.space,
      'x-engram-lsn': String(snapshot.lsn),
      'x-engram-memories': String(snapshot.memoryCount),
    });
    try {
      for await (const memory of snapshot.memories()) {
        if (!(await writeOrWait(reply.raw, memoryToLine(memory, vectors)))) return;
      }
      reply.raw.end();
    } catch (error) {
      // The status line is gone: cut the stream, so the client sees a failed transfer, not a short one.
      reply.log.error({ err: error }, 'export failed');
      reply.raw.destroy(error as Error);
    }
  });
}

interface ImportReport {
  lines: number;
  imported: number;
  failed: number;
  errors: Array<{ line: number; code: string; message: string }>;
  unresolved: LoadReport['unresolved'];
}

function lineError(report: ImportReport, line: number, error: unknown): void {
  if (!isEngramError(error)) throw error;
  report.failed += 1;
  if (report.errors.length < TRANSFER_LIMITS.errorsListedMax)
    report.errors.push({ line, code: error.code, message: error.message });
}

async function flush(
  space: SpaceHandle,
  batch: Array<{ line: number; memory: SnapshotMemory }>,
  report: ImportReport,
): Promise<void> {
  if (batch.length === 0) return;
  const loaded = await space.load(batch.map((item) => item.memory));
  loaded.errors.forEach((error, i) => {
    if (error) lineError(report, batch[i]!.line, error);
    else report.imported += 1;
  });
  report.unresolved.push(...loaded.unresolved);
}

async function importLines(space: SpaceHandle, body: Readable): Promise<ImportReport> {
  const report: ImportReport = { lines: 0, imported: 0, failed: 0, errors: [], unresolved: [] };
  let batch: Array<{ line: number; memory: SnapshotMemory }> = [];
  for await (const item of ndjsonLines(body, TRANSFER_LIMITS.lineBytesMax)) {
    report.lines = item.line;
    if (item.line > TRANSFER_LIMITS.linesMax) {
      body.destroy();
      throw new EngramError(
        'ENG_BODY_TOO_LARGE',
        `An import holds at most ${TRANSFER_LIMITS.linesMax} lines; nothing after line ${TRANSFER_LIMITS.linesMax} was read`,
      );
    }
    if (item.tooLong) {
      const message = `Line is longer than ${TRANSFER_LIMITS.lineBytesMax} bytes`;
      lineError(report, item.line, new EngramError('ENG_REQUEST_INVALID', message));
      continue;
    }
    try {
      batch.push({ line: item.line, memory: memoryFromLine(JSON.parse(item.text)) });
    } catch (error) {
      const cause =
        error instanceof SyntaxError
          ? new EngramError('ENG_REQUEST_INVALID', `Invalid JSON: ${error.message}`)
          : error;
      lineError(report, item.line, cause);
    }
    if (batch.length >= TRANSFER_LIMITS.batchItems) {
      await flush(space, batch, report);
      batch = [];
    }
  }
  await flush(space, batch, report);
  // Links to memories on later lines: retried once everything is in.
  if (report.unresolved.length > 0)
    report.unresolved = (await space.loadLinks(report.unresolved)).unresolved;
  return report;
}

export function transferRoutes(app: FastifyInstance, ctx: HttpContext): void {
  addStreamParser(app, NDJSON);

  app.get('/api/v1/export', { schema: { querystring: exportQuery } }, async (request, reply) => {
    const { id, space } = await ctx.forRead(request);
    if (!space) throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}"`);
    await exportSpace(space, reply, (request.query as { vectors?: boolean }).vectors ?? false);
    return reply;
  });

  app.post(
    '/api/v1/import',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { space: { type: 'string' } },
        },
      },
    },
    async (request) => {
      if (typeof (request.body as Readable | undefined)?.pipe !== 'function') {
        throw new EngramError(
          'ENG_REQUEST_INVALID',
          'An import body is JSON Lines sent as application/x-ndjson',
        );
      }
      const space = await ctx.forWrite(request);
      const report = await importLines(space, request.body as Readable);
      return {
        memory_space: space.id,
        lines: report.lines,
        imported: report.imported,
        failed: report.failed,
        errors: report.errors,
        unresolved_associations: report.unresolved.length,
      };
    },
  );
}
