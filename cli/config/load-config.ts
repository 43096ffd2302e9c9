/**
 * The effective configuration: defaults < config file < ENGRAM_* environment < flags, resolved
 * once, validated, and frozen together with where each value came from.
 */
import { homedir } from 'node:os';
import {
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  specOf,
  type ConfigKey,
  type ConfigValue,
  type ConfigValues,
} from './config-schema.ts';
import { CONFIG_ENV, locateConfigFile, readConfigFile, type ConfigFile } from './config-file.ts';
import type { FlagOverrides } from './config-flags.ts';
import { flattenConfigTable } from './config-table.ts';
import {
  absolutePath,
  valueFromText,
  valueFromToml,
  type PathContext,
  type ValueOrigin,
} from './config-value.ts';
import { nearestName } from './near-miss.ts';
import { validateConfig } from './validate-config.ts';

export interface LoadConfigOptions {
  /** `--config PATH`, when given. */
  configPath?: string | undefined;
  flags?: FlagOverrides;
  /** The environment (process.env by default). */
  env?: NodeJS.ProcessEnv;
  home?: string;
  cwd?: string;
  /** Receives warnings, e.g. an ENGRAM_* variable that looks like a misspelled one. */
  warn?: (message: string) => void;
}

export interface ResolvedConfig {
  readonly values: ConfigValues;
  readonly origins: Readonly<Record<ConfigKey, ValueOrigin>>;
  readonly file: Readonly<Omit<ConfigFile, 'table'>>;
}

/** Variables read outside the schema: the file's location and the client commands' settings. */
export const EXTRA_ENV = Object.freeze([CONFIG_ENV, 'ENGRAM_MEMORY_SPACE', 'ENGRAM_URL']);

/**
 * ENGRAM_* variables that are not ours but look like ours get a warning (not an error: the
 * prefix is shared with other tools and with the test suites' own knobs).
 */
function warnAboutNearMisses(env: NodeJS.ProcessEnv, warn: (message: string) => void): void {
  const known = [...CONFIG_KEYS.map((key) => CONFIG_SCHEMA[key].env), ...EXTRA_ENV];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('ENGRAM_') || known.includes(name)) continue;
    // Compared in lower case: nearestName speaks TOML's snake_case.
    const hint = nearestName(
      name.toLowerCase(),
      known.map((k) => k.toLowerCase()),
      2,
    )?.toUpperCase();
    if (hint !== undefined)
      warn(`ignoring unknown environment variable ${name} (did you mean ${hint}?)`);
  }
}

export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const paths: PathContext = { home: options.home ?? homedir(), cwd: options.cwd ?? process.cwd() };
  warnAboutNearMisses(env, options.warn ?? (() => undefined));
  const file = readConfigFile(locateConfigFile(options.configPath, env, paths.home));

  const values = new Map<ConfigKey, ConfigValue>();
  const origins = new Map<ConfigKey, ValueOrigin>();
  for (const key of CONFIG_KEYS) {
    const spec = specOf(key);
    const origin: ValueOrigin = { source: 'default', name: 'default' };
    values.set(
      key,
      spec.type === 'path'
        ? absolutePath(spec.default, origin, paths.home, paths.cwd)
        : spec.default,
    );
    origins.set(key, origin);
  }
  for (const [key, raw] of flattenConfigTable(file.table, file.path)) {
    const origin: ValueOrigin = { source: 'file', name: file.path };
    values.set(key, valueFromToml(key, specOf(key), raw, origin, paths));
    origins.set(key, origin);
  }
  for (const key of CONFIG_KEYS) {
    const spec = specOf(key);
    const raw = env[spec.env];
    // An empty variable counts as unset, as shells make it easy to clear one that way.
    if (raw === undefined || raw === '') continue;
    const origin: ValueOrigin = { source: 'env', name: spec.env };
    values.set(key, valueFromText(key, spec, raw, origin, paths));
    origins.set(key, origin);
  }
  for (const [key, flag] of Object.entries(options.flags ?? {}) as Array<
    [ConfigKey, { raw: string; flag: string }]
  >) {
    const origin: ValueOrigin = { source: 'flag', name: flag.flag };
    values.set(key, valueFromText(key, specOf(key), flag.raw, origin, paths));
    origins.set(key, origin);
  }
  const resolved: ResolvedConfig = {
    values: Object.freeze(Object.fromEntries(values)) as ConfigValues,
    origins: Object.freeze(Object.fromEntries(origins)) as Record<ConfigKey, ValueOrigin>,
    file: Object.freeze({ path: file.path, origin: file.origin, loaded: file.loaded }),
  };
  validateConfig(resolved);
  return Object.freeze(resolved);
}
