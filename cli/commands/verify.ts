/**
 * `engram verify`: an offline integrity check of a data root (engine/verify.ts). It takes the
 * data-root lock, so it refuses a root a running server uses (stop the server first), prints a
 * report per space and exits 1 when anything is damaged.
 */
import { Command } from 'commander';
import { spaceDirs, verifyDataRoot, type VerifyReport } from '../../engine/index.ts';
import { CliError } from '../cli-error.ts';
import { addConfigFlags, flagOverrides } from '../config/config-flags.ts';
import { loadConfig } from '../config/load-config.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson, printLine } from '../output/print.ts';
import { startProgress } from '../output/progress.ts';
import { cell, formatTable } from '../output/table.ts';

function render(report: VerifyReport): string {
  const table = formatTable(
    [
      { header: 'Space' },
      { header: 'Result' },
      { header: 'WAL records', align: 'right' },
      { header: 'Applied LSN', align: 'right' },
      { header: 'Memories', align: 'right' },
      { header: 'Index labels', align: 'right' },
    ],
    report.spaces.map((s) => [
      s.space,
      s.ok ? 'ok' : 'DAMAGED',
      cell(s.wal.records),
      cell(s.warm?.appliedLsn),
      cell(s.warm?.memories),
      cell(s.index?.labels),
    ]),
  );
  const notes = report.spaces.flatMap((s) => [
    ...s.damage.map((text) => `${s.space}: DAMAGE: ${text}`),
    ...s.warnings.map((text) => `${s.space}: warning: ${text}`),
  ]);
  return [table, ...notes].join('\n');
}

async function run(opts: Record<string, unknown>): Promise<void> {
  const config = loadConfig({
    configPath: opts.config as string | undefined,
    flags: flagOverrides(opts),
  });
  const dataRoot = config.values['persistence.data_root'];
  const total = typeof opts.space === 'string' ? 1 : (await spaceDirs(dataRoot)).length;
  const progress = startProgress('verifying', total);
  const report = await verifyDataRoot(dataRoot, {
    ...(typeof opts.space === 'string' ? { space: opts.space } : {}),
    onSpace: (id) => progress.tick(id),
  });
  progress.stop();
  if (opts.json) printJson(report);
  else printLine(report.spaces.length === 0 ? `no spaces in ${dataRoot}` : render(report));
  if (!report.ok) {
    const damaged = report.spaces.filter((s) => !s.ok).map((s) => s.space);
    throw new CliError(
      `damage found in ${damaged.join(', ')} (data root ${dataRoot})`,
      EXIT.failure,
    );
  }
}

export function verifyCommand(): Command {
  const command = new Command('verify')
    .description(
      'check a data root offline (WAL checksums, warm tier against the WAL, index against the warm tier); exit 1 on damage',
    )
    .option('--space <id>', 'check only this space')
    .option('--json', 'print the report as JSON');
  return addConfigFlags(command, ['persistence.data_root']).action(run);
}
