/** `engram space create|list|delete|stats`, against the running server's /api/v1/spaces. */
import { Command, InvalidArgumentError } from 'commander';
import { EngramHttpError, type SpaceStats } from '../../client/http-client.ts';
import { CliError } from '../cli-error.ts';
import { addClientFlags, clientContext, type ClientFlags } from '../client-context.ts';
import { EXIT } from '../exit-codes.ts';
import { confirm } from '../output/confirm.ts';
import { plural } from '../output/plural.ts';
import { printJson, printLine } from '../output/print.ts';
import { cell, formatTable } from '../output/table.ts';

type JsonFlag = { json?: boolean };

function dimension(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_536) {
    throw new InvalidArgumentError('must be an integer from 1 to 65536');
  }
  return value;
}

function statsTable(stats: SpaceStats): string {
  const rows: Array<[string, unknown]> = [
    ['space', stats.id],
    ['state', stats.state],
    ['memories', stats.memories],
    ['dimension', stats.dimension],
    ['last LSN', stats.last_lsn],
    ['applied LSN', stats.applied_lsn],
    ['indexed LSN', stats.indexed_lsn],
    ['snapshot LSN', stats.snapshot_lsn],
    ['pending apply', stats.pending_apply],
    ['WAL lag (ms)', stats.wal_lag_ms],
    ['index lag (records)', stats.index_lag_records],
    ['WAL segments', stats.wal_segments],
    ['WAL bytes', stats.wal_bytes],
  ];
  return formatTable(
    [{ header: 'Field' }, { header: 'Value' }],
    rows.map(([name, value]) => [name, cell(value)]),
  );
}

async function create(
  id: string,
  opts: ClientFlags & JsonFlag & { dimension?: number; embedder?: string },
): Promise<void> {
  const { client } = clientContext(opts);
  const result = await client.createSpace({
    id,
    ...(opts.dimension === undefined ? {} : { dimension: opts.dimension }),
    ...(opts.embedder === undefined ? {} : { embedder: opts.embedder }),
  });
  if (opts.json) return printJson(result);
  printLine(
    `${result.created ? 'created space' : 'space already exists:'} ${result.id} (dimension ${cell(result.dimension)})`,
  );
}

async function list(opts: ClientFlags & JsonFlag): Promise<void> {
  const { client } = clientContext(opts);
  const spaces = await client.listSpaces();
  if (opts.json) return printJson(spaces);
  if (spaces.length === 0) return printLine('no spaces');
  printLine(
    formatTable(
      [
        { header: 'Space' },
        { header: 'Memories', align: 'right' },
        { header: 'Dimension', align: 'right' },
        { header: 'State' },
      ],
      spaces.map((s) => [
        s.id,
        cell(s.memories),
        cell(s.dimension),
        s.reason ? `${s.state}: ${s.reason}` : s.state,
      ]),
    ),
  );
}

async function remove(id: string, opts: ClientFlags & JsonFlag & { yes?: boolean }): Promise<void> {
  const { client } = clientContext(opts);
  if (!opts.yes) {
    // Asking names what would be lost; a space that does not exist fails here, before the question.
    const what = await client.spaceStats(id).then(
      (stats) => `space "${stats.id}" and its ${plural(stats.memories, 'memory', 'memories')}`,
      (error: unknown) => {
        // A quarantined space has no stats to show, and deleting it is a way out of quarantine.
        if (error instanceof EngramHttpError && error.code === 'ENG_SPACE_QUARANTINED') {
          return `quarantined space "${id}" and whatever it holds`;
        }
        throw error;
      },
    );
    const ok = await confirm(`Delete ${what}? This cannot be undone.`);
    if (!ok) throw new CliError(`Not deleted: space "${id}" is unchanged`, EXIT.failure);
  }
  const result = await client.deleteSpace(id);
  if (opts.json) return printJson(result);
  printLine(`deleted space ${result.id}`);
}

async function stats(id: string, opts: ClientFlags & JsonFlag): Promise<void> {
  const { client } = clientContext(opts);
  const result = await client.spaceStats(id);
  if (opts.json) return printJson(result);
  printLine(statsTable(result));
}

export function spaceCommand(): Command {
  const space = new Command('space').description('manage memory spaces on the running server');

  const createCmd = new Command('create')
    .description('create a space (idempotent: an existing space is left as it is)')
    .argument('<id>', 'space id: 3-64 characters of a-z, 0-9, "-" and "_"')
    .option(
      '--dimension <n>',
      "vector dimension (default: the embedder's, or fixed by the first vector)",
      dimension,
    )
    .option(
      '--embedder <name>',
      'embedder: "hash", or one the server configures (default: [embedder] default)',
    )
    .option('--json', "print the server's answer as JSON");
  addClientFlags(createCmd, { space: false }).action(create);

  const listCmd = new Command('list')
    .description('list spaces with their memory counts, dimension and state')
    .option('--json', 'print JSON');
  addClientFlags(listCmd, { space: false }).action(list);

  const deleteCmd = new Command('delete')
    .description('delete a space and every memory in it (asks first unless --yes)')
    .argument('<id>', 'space id')
    .option('-y, --yes', 'do not ask')
    .option('--json', "print the server's answer as JSON");
  addClientFlags(deleteCmd, { space: false }).action(remove);

  const statsCmd = new Command('stats')
    .description("show one space's counters: memories, LSNs, WAL lag and size")
    .argument('<id>', 'space id')
    .option('--json', 'print JSON');
  addClientFlags(statsCmd, { space: false }).action(stats);

  return space.addCommand(createCmd).addCommand(listCmd).addCommand(deleteCmd).addCommand(statsCmd);
}
