/**
 * `engram config show`: the effective configuration, every key with its value and where the
 * value came from (default, file, env or flag), plus what client commands would use. Secrets
 * are never shown: the OpenAI key appears only as the name of its variable, the password of
 * the PostgreSQL URL as ***.
 */
import { Command } from 'commander';
import {
  resolveSpace,
  resolveUrl,
  SPACE_ENV,
  URL_ENV,
  type ClientFlags,
  type Resolved,
} from '../client-context.ts';
import { addConfigFlags, flagOverrides } from '../config/config-flags.ts';
import { CONFIG_KEYS, CONFIG_SCHEMA, displayValue } from '../config/config-schema.ts';
import { loadConfig, type ResolvedConfig } from '../config/load-config.ts';
import { printJson, printLine } from '../output/print.ts';
import { formatTable } from '../output/table.ts';

function showValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A client setting that cannot be resolved (e.g. server.port = 0) is shown with the reason. */
function attempt(resolve: () => Resolved<string>): Resolved<string> {
  try {
    return resolve();
  } catch (error) {
    return { value: `(${(error as Error).message})`, from: 'unresolved' };
  }
}

function fileLine(config: ResolvedConfig): string {
  const { path, origin, loaded } = config.file;
  const named = origin === 'flag' ? '--config' : origin === 'env' ? 'ENGRAM_CONFIG' : 'default';
  return `config file: ${path} (${named}, ${loaded ? 'loaded' : 'not found: defaults apply'})`;
}

function runShow(opts: ClientFlags & { json?: boolean } & Record<string, unknown>): void {
  const config = loadConfig({
    configPath: opts.config,
    flags: flagOverrides(opts),
    warn: (message) => process.stderr.write(`engram: warning: ${message}\n`),
  });
  const url = attempt(() => resolveUrl(opts, config, process.env));
  const space = attempt(() => resolveSpace(opts, config, process.env));
  if (opts.json) {
    return printJson({
      file: config.file,
      settings: Object.fromEntries(
        CONFIG_KEYS.map((key) => [
          key,
          {
            value: displayValue(key, config.values[key]),
            source: config.origins[key].source,
            env: CONFIG_SCHEMA[key].env,
            ...(config.origins[key].source === 'flag' ? { flag: config.origins[key].name } : {}),
          },
        ]),
      ),
      client: { url, space },
    });
  }
  printLine(fileLine(config));
  printLine('');
  printLine(
    formatTable(
      [{ header: 'Key' }, { header: 'Value' }, { header: 'Source' }, { header: 'Env' }],
      CONFIG_KEYS.map((key) => [
        key,
        showValue(displayValue(key, config.values[key])),
        config.origins[key].source,
        CONFIG_SCHEMA[key].env,
      ]),
    ),
  );
  printLine('');
  printLine(
    formatTable(
      [{ header: 'Client' }, { header: 'Value' }, { header: 'From' }],
      [
        ['url', url.value, url.from],
        ['space', space.value, space.from],
      ],
    ),
  );
  printLine(
    `(client settings: --url, ${URL_ENV}, [server]; --space, ${SPACE_ENV}, [memory_spaces])`,
  );
}

export function configCommand(): Command {
  const config = new Command('config').description('inspect the configuration');
  const show = new Command('show').description(
    'print the effective configuration and where each value came from (default, file, env, flag)',
  );
  addConfigFlags(show, [
    'server.host',
    'server.port',
    'server.grpc_port',
    'persistence.data_root',
    'server.log_level',
    'persistence.durability',
  ]);
  show
    .option('--url <url>', `server URL for client commands (env ${URL_ENV})`)
    .option('--space <id>', `space for client commands (env ${SPACE_ENV})`)
    .option('--json', 'print JSON')
    .action(runShow);
  return config.addCommand(show);
}
