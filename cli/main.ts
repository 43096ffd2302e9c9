#!/usr/bin/env node
/** The `engram` command: argument parsing -> options -> start the server or run an offline command. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DATA_ROOT, Registry, isEngramError } from '../engine/index.ts';
import { SERVER_DEFAULTS, startServer } from '../server/main.ts';

/** data_root precedence: --data-root flag, then ENGRAM_DATA_ROOT, then the default. */
function dataRoot(flag: string | undefined): string {
  return flag ?? process.env.ENGRAM_DATA_ROOT ?? DEFAULT_DATA_ROOT;
}

function integer(name: string, min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

const program = new Command()
  .name('engram')
  .description('Engram: a memory engine for AI agents')
  .showHelpAfterError();

program
  .command('start')
  .description('start the server (HTTP) on the data root')
  .option('--host <host>', 'address to listen on', SERVER_DEFAULTS.host)
  .option(
    '--port <port>',
    'HTTP port (0 picks a free one)',
    integer('--port', 0, 65535),
    SERVER_DEFAULTS.port,
  )
  .option(
    '--data-root <path>',
    `data directory (env ENGRAM_DATA_ROOT; default ${DEFAULT_DATA_ROOT})`,
  )
  .option('--log-level <level>', 'pino log level', SERVER_DEFAULTS.logLevel)
  .addOption(
    new Option('--durability <mode>', 'when writes are acknowledged')
      .choices(['fsync', 'interval', 'none'])
      .default('fsync'),
  )
  .action(
    async (opts: {
      host: string;
      port: number;
      dataRoot?: string;
      logLevel: string;
      durability: 'fsync' | 'interval' | 'none';
    }) => {
      const server = await startServer({
        engine: { dataRoot: dataRoot(opts.dataRoot), durability: opts.durability },
        host: opts.host,
        port: opts.port,
        logLevel: opts.logLevel,
      });
      console.error(
        `engram listening on ${server.url} (data root ${server.registry.options.dataRoot}, ${server.registry.discovery.spaces} spaces)`,
      );
      const shutdown = (signal: string): void => {
        server.logger.info({ signal }, 'shutting down');
        server.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            server.logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    },
  );

const space = program
  .command('space')
  .description('manage memory spaces (offline: the server must not be running on the data root)');

space
  .command('create <id>')
  .description('create a space (idempotent)')
  .option(
    '--dimension <n>',
    'vector dimension (otherwise fixed by the first vector)',
    integer('--dimension', 1, 65536),
  )
  .option('--data-root <path>', 'data directory')
  .action(async (id: string, opts: { dimension?: number; dataRoot?: string }) => {
    const registry = await Registry.open({ dataRoot: dataRoot(opts.dataRoot) });
    try {
      const result = await registry.createSpace(
        id,
        opts.dimension === undefined ? {} : { dimension: opts.dimension },
      );
      console.log(
        result.created ? `created space ${result.id}` : `space ${result.id} already exists`,
      );
    } finally {
      await registry.close();
    }
  });

space
  .command('list')
  .description('list spaces with their memory counts and state')
  .option('--json', 'print JSON')
  .option('--data-root <path>', 'data directory')
  .action(async (opts: { json?: boolean; dataRoot?: string }) => {
    const registry = await Registry.open({ dataRoot: dataRoot(opts.dataRoot), maxOpenSpaces: 8 });
    try {
      const spaces = await registry.listSpaces();
      if (opts.json) {
        console.log(JSON.stringify(spaces, null, 2));
        return;
      }
      const rows = [
        ['Space', 'Memories', 'Dimension', 'State'],
        ...spaces.map((s) => [
          s.id,
          String(s.memories ?? '-'),
          String(s.dimension ?? '-'),
          s.reason ? `${s.state}: ${s.reason}` : s.state,
        ]),
      ];
      const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
      for (const row of rows)
        console.log(
          row
            .map((cell, col) => cell.padEnd(widths[col]!))
            .join('  ')
            .trimEnd(),
        );
    } finally {
      await registry.close();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  if (isEngramError(error)) {
    console.error(`engram: ${error.message} [${error.code}]`);
    process.exit(error.category === 'invalid_argument' ? 2 : 1);
  }
  console.error(error);
  process.exit(1);
});
