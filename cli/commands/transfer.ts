/**
 * `engram export` and `engram import`: the memories of one space as JSON Lines (docs/cli.md),
 * streamed to and from the running server. Import is idempotent by id and reports bad lines
 * with their numbers; it exits 1 when any line failed (the good ones are stored).
 */
import { createWriteStream } from 'node:fs';
import { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { addClientFlags, clientContext, type ClientFlags } from '../client-context.ts';
import { EXIT } from '../exit-codes.ts';
import { plural } from '../output/plural.ts';
import { printJson, printLine, printNote } from '../output/print.ts';
import { byteProgress } from './backup.ts';

async function exportCmd(
  opts: ClientFlags & { out?: string; vectors?: boolean; json?: boolean },
): Promise<void> {
  const ctx = clientContext(opts);
  const client = ctx.transfer;
  const toFile = opts.out !== undefined && opts.out !== '-';
  const out = toFile ? createWriteStream(opts.out!) : process.stdout;
  const progress = byteProgress('exporting', undefined);
  let result;
  try {
    result = await client.exportSpace(ctx.space().value, out, {
      vectors: opts.vectors ?? false,
      ...(toFile ? { onProgress: progress.update } : {}),
    });
  } finally {
    progress.stop();
  }
  if (!toFile) return; // stdout holds the data itself
  if (opts.json) return printJson({ out: opts.out, ...result });
  printLine(
    `exported ${plural(result.memories, 'memory', 'memories')} (LSN ${result.lsn}) to ${opts.out}`,
  );
}

async function importCmd(file: string, opts: ClientFlags & { json?: boolean }): Promise<void> {
  const ctx = clientContext(opts);
  const client = ctx.transfer;
  const progress = byteProgress('importing', undefined);
  let result;
  try {
    result = await client.importFile(ctx.space().value, file, progress.update);
  } finally {
    progress.stop();
  }
  if (opts.json) printJson(result);
  else {
    printLine(
      `imported ${plural(result.imported, 'memory', 'memories')} into space ${result.memory_space} from ${plural(result.lines, 'line')}; ${result.failed} failed`,
    );
    for (const error of result.errors)
      printNote(`line ${error.line}: ${error.message} [${error.code}]`);
  }
  if (result.failed > 0)
    throw new CliError(
      `${plural(result.failed, 'line')} of ${file} failed (the others were imported)`,
      EXIT.failure,
    );
}

export function exportCommand(): Command {
  const command = new Command('export')
    .description("write a space's memories as JSON Lines (to stdout, or --out FILE)")
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--vectors', 'include each memory\'s vector as "embedding"')
    .option('--json', 'with --out: print a JSON summary');
  return addClientFlags(command, { space: true }).action(exportCmd);
}

export function importCommand(): Command {
  const command = new Command('import')
    .description('store the memories of a JSON Lines file in a space (idempotent by id)')
    .argument('<file>', 'JSON Lines file, as written by engram export')
    .option('--json', 'print the report as JSON');
  return addClientFlags(command, { space: true }).action(importCmd);
}
