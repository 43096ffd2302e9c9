/**
 * `engram backup create|list|verify|restore`. Backups are made by the running server (a
 * consistent snapshot while it keeps serving writes) and kept in its data root; `--out`
 * downloads one. verify is local (a file needs no server); restore of a local file verifies
 * it here first, then uploads it.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import type {
  BackupInfo,
  EngramTransferClient,
  RestoreResult,
} from '../../client/transfer-client.ts';
import { isValidBackupName, verifyBackup } from '../../engine/index.ts';
import { usageError } from '../cli-error.ts';
import { addClientFlags, clientContext, type ClientFlags } from '../client-context.ts';
import { plural } from '../output/plural.ts';
import { printJson, printLine, printNote } from '../output/print.ts';
import { startProgress } from '../output/progress.ts';
import { cell, formatTable } from '../output/table.ts';

type JsonFlag = { json?: boolean };

function transferClient(opts: ClientFlags): { client: EngramTransferClient; space: () => string } {
  const ctx = clientContext(opts);
  return {
    client: ctx.transfer,
    space: () => ctx.space().value,
  };
}

/** A progress bar counting bytes, shown only on a terminal. */
export function byteProgress(
  title: string,
  total: number | undefined,
): { update: (done: number, total: number | undefined) => void; stop: () => void } {
  let bar: ReturnType<typeof startProgress> | undefined;
  return {
    update: (done, known) => {
      bar ??= startProgress(title, known ?? total ?? 0);
      bar.set(done);
    },
    stop: () => bar?.stop(),
  };
}

async function create(opts: ClientFlags & JsonFlag & { out?: string }): Promise<void> {
  const { client, space } = transferClient(opts);
  const backup = await client.createBackup(space());
  if (opts.out !== undefined) {
    const progress = byteProgress('downloading', backup.bytes);
    try {
      await client.downloadBackup(backup.name, opts.out, progress.update);
    } finally {
      progress.stop();
    }
  }
  if (opts.json)
    return printJson({ ...backup, ...(opts.out === undefined ? {} : { out: opts.out }) });
  printLine(
    `backup ${backup.name}: space ${backup.space} at LSN ${backup.lsn}, ${plural(backup.memories, 'memory', 'memories')}, ${backup.bytes} bytes`,
  );
  if (opts.out !== undefined) printLine(`saved to ${opts.out}`);
}

async function list(opts: ClientFlags & JsonFlag): Promise<void> {
  const { client } = transferClient(opts);
  const backups: BackupInfo[] = await client.listBackups();
  if (opts.json) return printJson(backups);
  if (backups.length === 0) return printLine('no backups');
  printLine(
    formatTable(
      [
        { header: 'Name' },
        { header: 'Space' },
        { header: 'LSN', align: 'right' },
        { header: 'Memories', align: 'right' },
        { header: 'Bytes', align: 'right' },
        { header: 'Created' },
      ],
      backups.map((b) => [
        b.name,
        b.space,
        cell(b.lsn),
        cell(b.memories),
        cell(b.bytes),
        b.created_at,
      ]),
    ),
  );
}

async function verify(file: string, opts: JsonFlag): Promise<void> {
  const { size } = await stat(file).catch(() => ({ size: 0 }));
  const progress = byteProgress('verifying', size);
  let summary;
  try {
    summary = await verifyBackup(file, {
      onFrame: (_frame, offset) => progress.update(offset, size),
    });
  } finally {
    progress.stop();
  }
  const { header } = summary;
  if (opts.json) return printJson({ ok: true, file, ...summary });
  printLine(
    `ok: ${file} is an intact backup of space ${header.space} at LSN ${header.lsn} (${plural(summary.frames, 'memory', 'memories')}, ${summary.bytes} bytes, sha256 ${summary.sha256})`,
  );
}

async function restore(
  source: string,
  opts: ClientFlags & JsonFlag & { as?: string; force?: boolean },
): Promise<void> {
  const { client } = transferClient(opts);
  const options = {
    ...(opts.as === undefined ? {} : { as: opts.as }),
    ...(opts.force ? { force: true } : {}),
  };
  let result: RestoreResult;
  if (existsSync(source)) {
    // Checked here first: a damaged file is refused before a byte is uploaded.
    await verifyBackup(source);
    const progress = byteProgress('uploading', undefined);
    try {
      result = await client.restoreBackupFile(source, options, progress.update);
    } finally {
      progress.stop();
    }
  } else if (isValidBackupName(source)) {
    result = await client.restoreBackupByName(source, options);
  } else {
    throw usageError(
      `${JSON.stringify(source)} is neither a local file nor a backup name on the server (see: engram backup list)`,
    );
  }
  if (opts.json) return printJson(result);
  printLine(
    `restored ${plural(result.memories, 'memory', 'memories')} into space ${result.memory_space} (from ${result.from_space} at LSN ${result.lsn}${result.replaced ? ', replacing the existing space' : ''})`,
  );
  if (result.unresolved_associations > 0)
    printNote(
      `engram: ${plural(result.unresolved_associations, 'association')} pointed at memories not in the backup and were left out`,
    );
}

export function backupCommand(): Command {
  const backup = new Command('backup').description('back up and restore memory spaces');

  const createCmd = new Command('create')
    .description('take a consistent backup of a space on the server (writes go on meanwhile)')
    .option('--out <file>', 'also download the backup to this local file')
    .option('--json', 'print JSON');
  addClientFlags(createCmd, { space: true }).action(create);

  const listCmd = new Command('list')
    .description('list the backups kept on the server')
    .option('--json', 'print JSON');
  addClientFlags(listCmd, { space: false }).action(list);

  const verifyCmd = new Command('verify')
    .description(
      'check a local backup file completely (checksums, counts, digest); exit 1 if damaged',
    )
    .argument('<file>', 'backup file')
    .option('--json', 'print JSON');
  verifyCmd.action(verify);

  const restoreCmd = new Command('restore')
    .description(
      'restore a backup (a local file, or the name of one on the server) into a new space',
    )
    .argument('<file-or-name>', 'local backup file, or a name from `engram backup list`')
    .option('--as <id>', "restore under this space id (default: the backup's space)")
    .option('--force', 'replace an existing space of that id')
    .option('--json', 'print JSON');
  addClientFlags(restoreCmd, { space: false }).action(restore);

  return backup
    .addCommand(createCmd)
    .addCommand(listCmd)
    .addCommand(verifyCmd)
    .addCommand(restoreCmd);
}
