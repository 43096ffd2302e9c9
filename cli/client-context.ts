/**
 * What a client command needs: the server's URL and the space it works on, each with where it
 * came from. URL: --url, else ENGRAM_URL, else [server] host and port. Space: --space, else
 * ENGRAM_MEMORY_SPACE, else [memory_spaces] default_space.
 */
import type { Command } from 'commander';
import { EngramHttpClient } from '../client/http-client.ts';
import { EngramTransferClient } from '../client/transfer-client.ts';
import { isEngramError, parseSpaceId } from '../engine/index.ts';
import { usageError } from './cli-error.ts';
import { addConfigFlags } from './config/config-flags.ts';
import { loadConfig, type ResolvedConfig } from './config/load-config.ts';

export const URL_ENV = 'ENGRAM_URL';
export const SPACE_ENV = 'ENGRAM_MEMORY_SPACE';
/** The API key client commands send (servers with [security] auth_mode = "api_key"). */
export const API_KEY_ENV = 'ENGRAM_API_KEY';

export interface ClientFlags {
  config?: string;
  url?: string;
  space?: string;
}

export interface Resolved<T> {
  value: T;
  /** "--url", "ENGRAM_URL", "config", ... */
  from: string;
}

export interface ClientContext {
  config: ResolvedConfig;
  url: Resolved<string>;
  /** Resolved when asked, so a command without a space is not failed by a bad ENGRAM_MEMORY_SPACE. */
  space(): Resolved<string>;
  client: EngramHttpClient;
  /** For backups, exports and imports (streamed bodies), with the same URL and key. */
  transfer: EngramTransferClient;
}

/** Adds --config and --url, and --space when the command works on one space. */
export function addClientFlags(command: Command, options: { space: boolean }): Command {
  addConfigFlags(command, []);
  command.option(
    '--url <url>',
    `server URL (env ${URL_ENV}; default http://<[server] host>:<[server] port>)`,
  );
  if (options.space) {
    command.option(
      '--space <id>',
      `memory space (env ${SPACE_ENV}; default [memory_spaces] default_space)`,
    );
  }
  return command;
}

/** The address a client dials for a server listening on `host`: a wildcard means this machine. */
export function urlFromConfig(config: ResolvedConfig): string {
  const port = config.values['server.port'];
  if (port === 0) {
    throw usageError(
      'server.port is 0 (a free port picked at start), so the URL is unknown: pass --url or set ENGRAM_URL',
    );
  }
  let host = config.values['server.host'];
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function resolveUrl(
  flags: ClientFlags,
  config: ResolvedConfig,
  env: NodeJS.ProcessEnv,
): Resolved<string> {
  const [raw, from] =
    flags.url !== undefined
      ? [flags.url, '--url']
      : env[URL_ENV]
        ? [env[URL_ENV], URL_ENV]
        : [urlFromConfig(config), 'config'];
  if (!/^https?:\/\//.test(raw) || !URL.canParse(raw)) {
    throw usageError(`The server URL ${JSON.stringify(raw)} (from ${from}) is not an http(s) URL`);
  }
  return { value: raw, from };
}

export function resolveSpace(
  flags: ClientFlags,
  config: ResolvedConfig,
  env: NodeJS.ProcessEnv,
): Resolved<string> {
  const [raw, from] =
    flags.space !== undefined
      ? [flags.space, '--space']
      : env[SPACE_ENV]
        ? [env[SPACE_ENV], SPACE_ENV]
        : [config.values['memory_spaces.default_space'], 'memory_spaces.default_space'];
  try {
    return { value: parseSpaceId(raw), from };
  } catch (error) {
    if (!isEngramError(error)) throw error;
    throw usageError(`${error.message} (from ${from})`);
  }
}

export function clientContext(
  flags: ClientFlags,
  options: { env?: NodeJS.ProcessEnv; warn?: (message: string) => void } = {},
): ClientContext {
  const env = options.env ?? process.env;
  const config = loadConfig({
    configPath: flags.config,
    env,
    ...(options.warn ? { warn: options.warn } : {}),
  });
  const url = resolveUrl(flags, config, env);
  const key = env[API_KEY_ENV] ? { apiKey: env[API_KEY_ENV] } : {};
  return {
    config,
    url,
    space: () => resolveSpace(flags, config, env),
    client: new EngramHttpClient({ baseUrl: url.value, ...key }),
    transfer: new EngramTransferClient({ baseUrl: url.value, ...key }),
  };
}
