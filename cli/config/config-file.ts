/**
 * Finding and reading the TOML file: `--config PATH`, else ENGRAM_CONFIG, else
 * ~/.config/engram/config.toml. A missing default file means "defaults only"; a missing file
 * that was named explicitly is an error (a typo must not silently run on defaults).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { TomlError, parse } from 'smol-toml';
import { usageError } from '../cli-error.ts';
import { expandTilde } from './expand-tilde.ts';

export const DEFAULT_CONFIG_PATH = '~/.config/engram/config.toml';
export const CONFIG_ENV = 'ENGRAM_CONFIG';

export interface ConfigFile {
  /** Absolute path of the file looked for. */
  path: string;
  /** Which of --config, ENGRAM_CONFIG or the default named it. */
  origin: 'flag' | 'env' | 'default';
  /** False when the default file does not exist (defaults apply). */
  loaded: boolean;
  /** The parsed document ({} when not loaded). */
  table: Record<string, unknown>;
}

export function locateConfigFile(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  home: string,
): Pick<ConfigFile, 'path' | 'origin'> {
  const fromEnv = env[CONFIG_ENV];
  const [raw, origin] =
    flag !== undefined
      ? ([flag, 'flag'] as const)
      : fromEnv !== undefined && fromEnv !== ''
        ? ([fromEnv, 'env'] as const)
        : ([DEFAULT_CONFIG_PATH, 'default'] as const);
  const expanded = expandTilde(raw, home);
  return { path: isAbsolute(expanded) ? expanded : resolve(expanded), origin };
}

export function readConfigFile(location: Pick<ConfigFile, 'path' | 'origin'>): ConfigFile {
  let text: string;
  try {
    text = readFileSync(location.path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && location.origin === 'default') {
      return { ...location, loaded: false, table: {} };
    }
    const named = location.origin === 'flag' ? '--config' : CONFIG_ENV;
    throw usageError(
      code === 'ENOENT'
        ? `Config file ${location.path} (named by ${named}) does not exist`
        : `Cannot read config file ${location.path}: ${(error as Error).message}`,
    );
  }
  try {
    return { ...location, loaded: true, table: parse(text) };
  } catch (error) {
    if (error instanceof TomlError) {
      throw usageError(`Cannot parse config file ${location.path}: ${error.message.trimEnd()}`);
    }
    throw error;
  }
}
