/**
 * /api/v1/backups: create a backup of the routed space on the server (in <data_root>/.backups),
 * list them, download one, and restore one, either by name or from an uploaded file (streamed
 * to disk, bounded, verified whole before anything is restored). Every name is checked against
 * the fixed backup name pattern by BackupStore before it touches the file system.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { BackupStore, EngramError, restoreBackup, type RestoreReport } from '../../engine/index.ts';
import type { HttpContext } from './context.ts';
import { addStreamParser } from './raw-stream.ts';

/** Largest backup file a client may upload for restore. */
export const BACKUP_UPLOAD_BYTES_MAX = 16 * 1024 * 1024 * 1024;

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', maxLength: 128 } },
} as const;

const restoreBody = {
  type: 'object',
  additionalProperties: false,
  properties: { as: { type: 'string' }, force: { type: 'boolean' } },
} as const;

const restoreQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { as: { type: 'string' }, force: { type: 'boolean' } },
} as const;

/** A create body is optional (the space may come from the header or query): checked here. */
function checkCreateBody(body: unknown): void {
  if (body === undefined || body === null) return;
  const fields =
    typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : ['(not an object)'];
  const unknown = fields.find((field) => field !== 'memory_space' && field !== 'memory_space_id');
  if (unknown !== undefined)
    throw new EngramError('ENG_REQUEST_INVALID', `Unknown field "${unknown}" in body`, {
      details: { field: unknown },
    });
}

function restoreToWire(report: RestoreReport): Record<string, unknown> {
  return {
    memory_space: report.space,
    from_space: report.from,
    lsn: report.lsn,
    memories: report.memories,
    unresolved_associations: report.unresolvedAssociations,
    replaced: report.replaced,
  };
}

function storeOf(ctx: HttpContext): BackupStore {
  const root =
    ctx.settings.backupRoot ?? (ctx.engine.backend === 'lmdb' ? ctx.engine.location : null);
  if (root === null) {
    throw new EngramError(
      'ENG_NOT_IMPLEMENTED',
      'This server has no directory for backups (HttpSettings.backupRoot); `engram start` uses its data_root',
    );
  }
  return new BackupStore(root);
}

export function backupRoutes(app: FastifyInstance, ctx: HttpContext): void {
  addStreamParser(app, ['application/octet-stream']);

  app.post('/api/v1/backups', async (request, reply) => {
    const store = storeOf(ctx);
    checkCreateBody(request.body);
    const { id, space } = await ctx.forRead(request);
    if (!space) throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${id}"`);
    return reply.status(201).send({ backup: await store.create(space) });
  });

  app.get('/api/v1/backups', async () => ({ backups: await storeOf(ctx).list() }));

  app.get('/api/v1/backups/:name', { schema: { params: nameParams } }, async (request, reply) => {
    const path = await storeOf(ctx).path((request.params as { name: string }).name);
    const { size } = await stat(path);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', size)
      .send(createReadStream(path));
  });

  app.post(
    '/api/v1/backups/:name/restore',
    { schema: { params: nameParams, body: restoreBody } },
    async (request) => {
      const path = await storeOf(ctx).path((request.params as { name: string }).name);
      const body = (request.body ?? {}) as { as?: string; force?: boolean };
      return restoreToWire(await restoreBackup(ctx.engine, path, body));
    },
  );

  app.post(
    '/api/v1/backups/restore',
    { schema: { querystring: restoreQuery } },
    async (request) => {
      const store = storeOf(ctx);
      if (typeof (request.body as Readable | undefined)?.pipe !== 'function') {
        throw new EngramError(
          'ENG_REQUEST_INVALID',
          'Upload the backup file as the body, with content-type application/octet-stream',
        );
      }
      const path = await store.receive(request.body as Readable, BACKUP_UPLOAD_BYTES_MAX);
      try {
        const query = request.query as { as?: string; force?: boolean };
        return restoreToWire(await restoreBackup(ctx.engine, path, query));
      } finally {
        await store.discard(path);
      }
    },
  );
}
