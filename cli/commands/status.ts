/**
 * `engram status`: the server's per-space health (GET /api/v1/system/health) as a table. Values
 * the server does not measure yet (null) show as "-". Exits 1 when the server reports degraded.
 */
import { Command } from 'commander';
import { addClientFlags, clientContext, type ClientFlags } from '../client-context.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson, printLine } from '../output/print.ts';
import { cell, formatTable } from '../output/table.ts';

async function runStatus(opts: ClientFlags & { json?: boolean }): Promise<void> {
  const { client, url } = clientContext(opts);
  // --space filters on the server; status never falls back to ENGRAM_MEMORY_SPACE.
  const health = await client.systemHealth(opts.space === undefined ? {} : { space: opts.space });
  if (health.status !== 'ok') process.exitCode = EXIT.failure;
  if (opts.json) {
    printJson(health);
    return;
  }
  printLine(`engram at ${url.value}: ${health.status}, ${health.spaces.length} spaces`);
  if (health.spaces.length === 0) return;
  printLine('');
  printLine(
    formatTable(
      [
        { header: 'Space' },
        { header: 'Memories', align: 'right' },
        { header: 'Pressure', align: 'right' },
        { header: 'WAL lag (ms)', align: 'right' },
        { header: 'Consolidation/s', align: 'right' },
        { header: 'State' },
      ],
      health.spaces.map((s) => [
        s.space,
        cell(s.memories),
        cell(s.pressure),
        cell(s.wal_lag_ms),
        cell(s.consolidation_rate),
        s.state,
      ]),
    ),
  );
  for (const s of health.spaces) {
    if (s.reason !== undefined) printLine(`${s.space}: ${s.reason}`);
  }
}

export function statusCommand(): Command {
  const command = new Command('status').description(
    "show the running server's spaces: memories, pressure, WAL lag, consolidation rate, state",
  );
  addClientFlags(command, { space: false });
  command.option('--space <id>', 'only this space (filtered on the server)');
  command.option('--json', "print the server's answer as JSON");
  return command.action((opts: ClientFlags & { json?: boolean }) => runStatus(opts));
}
