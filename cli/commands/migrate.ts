/**
 * `engram migrate`: brings stored data up to this build, printing one line per step. With the
 * embedded backend it moves a pre-spaces data root into the space "default" and checks every
 * space's format (engine/migrate.ts); with the PostgreSQL backend it applies the pending schema
 * migrations (migratePostgres). Run it with the server stopped (the embedded backend's lock
 * enforces this).
 */
import { Command, Option } from 'commander';
import {
  migrateDataRoot,
  migratePostgres,
  SILENT_LOGGER,
  type Logger,
  type VectorStorage,
} from '../../engine/index.ts';
import { addConfigFlags, flagOverrides } from '../config/config-flags.ts';
import { loadConfig } from '../config/load-config.ts';
import { usageError } from '../cli-error.ts';
import { printJson, printLine } from '../output/print.ts';

async function run(opts: Record<string, unknown>): Promise<void> {
  const config = loadConfig({
    configPath: opts.config as string | undefined,
    flags: flagOverrides(opts),
  });
  const v = config.values;
  const json = opts.json === true;
  const say = (line: string): void => {
    if (!json) printLine(line);
  };
  const postgresUrl =
    (opts.postgresUrl as string | undefined) ??
    (v['persistence.backend'] === 'postgres' ? v['persistence.postgres_url'] : undefined);
  if (postgresUrl !== undefined) {
    if (opts.dryRun) throw usageError('--dry-run is not supported with the PostgreSQL backend');
    const role = v['persistence.postgres_role'];
    // One line per step, as each migration commits.
    const logger: Logger = {
      ...SILENT_LOGGER,
      info: (fields) => {
        const step = fields as { version?: number; name?: string; ms?: number };
        if (step.version !== undefined)
          say(`applied migration ${step.version} ${step.name} (${step.ms} ms)`);
      },
    };
    logger.child = () => logger;
    const report = await migratePostgres(
      {
        url: postgresUrl,
        schema: v['persistence.postgres_schema'],
        ...(role === '' ? {} : { appRole: role }),
        vectorStorage: opts.vectorStorage as VectorStorage,
      },
      { logger },
    );
    say(
      report.applied.length === 0
        ? `schema ${report.schema} is at version ${report.to}: nothing to do`
        : `schema ${report.schema}: version ${report.from} -> ${report.to}`,
    );
    if (json) printJson({ backend: 'postgres', ...report });
    return;
  }
  const report = await migrateDataRoot(v['persistence.data_root'], {
    dryRun: opts.dryRun === true,
    embedder: (opts.embedder as string | undefined) ?? null,
    onStep: (step) => say(`${opts.dryRun ? 'would ' : ''}${step}`),
  });
  if (json) printJson({ backend: 'lmdb', dryRun: opts.dryRun === true, ...report });
}

export function migrateCommand(): Command {
  const command = new Command('migrate')
    .description(
      'move a pre-spaces data root into the space "default" and upgrade on-disk formats (PostgreSQL: apply schema migrations); one line per step',
    )
    .option('--dry-run', 'print the steps without taking them')
    .option(
      '--embedder <name>',
      'embedder recorded for the space made from a pre-spaces root (default: none)',
    )
    .option(
      '--postgres-url <url>',
      'migrate this PostgreSQL database (default: persistence.postgres_url when persistence.backend is "postgres")',
    )
    .addOption(
      new Option('--vector-storage <kind>', 'PostgreSQL: how vectors are stored')
        .choices(['pgvector', 'float4-array'])
        .default('pgvector'),
    )
    .option('--json', 'print the report as JSON');
  return addConfigFlags(command, ['persistence.data_root']).action(run);
}
