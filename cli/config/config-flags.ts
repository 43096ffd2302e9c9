/**
 * Command-line flags that set configuration keys. They are declared from the schema (so help
 * shows the default and the environment variable) and have no commander default: a flag that
 * was not given must not override the file or the environment.
 */
import { Option, type Command } from 'commander';
import { CONFIG_SCHEMA, type ConfigKey, type KeySpec } from './config-schema.ts';

/** The flag of each key that has one, and the attribute commander stores it under. */
export const CONFIG_FLAGS = Object.freeze({
  'server.host': { flag: '--host', attribute: 'host', arg: '<host>' },
  'server.port': { flag: '--port', attribute: 'port', arg: '<port>' },
  'server.grpc_port': { flag: '--grpc-port', attribute: 'grpcPort', arg: '<port>' },
  'server.log_level': { flag: '--log-level', attribute: 'logLevel', arg: '<level>' },
  'persistence.data_root': { flag: '--data-root', attribute: 'dataRoot', arg: '<path>' },
  'persistence.durability': { flag: '--durability', attribute: 'durability', arg: '<mode>' },
} satisfies Partial<Record<ConfigKey, { flag: string; attribute: string; arg: string }>>);

export type FlagKey = keyof typeof CONFIG_FLAGS;

/** A flag value with the flag's name, for messages ("from --port"). */
export interface FlagValue {
  raw: string;
  flag: string;
}

export type FlagOverrides = Partial<Record<ConfigKey, FlagValue>>;

function defaultText(key: FlagKey): string {
  const value = CONFIG_SCHEMA[key].default;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Adds `--config` and the flags of `keys` to a command. */
export function addConfigFlags(command: Command, keys: readonly FlagKey[]): Command {
  command.option(
    '--config <path>',
    'configuration file (env ENGRAM_CONFIG; default ~/.config/engram/config.toml)',
  );
  for (const key of keys) {
    const { flag, arg } = CONFIG_FLAGS[key];
    const spec: KeySpec = CONFIG_SCHEMA[key];
    const option = new Option(
      `${flag} ${arg}`,
      `${spec.doc} (env ${spec.env}; default ${defaultText(key)})`,
    );
    if (spec.type === 'string' && spec.choices) option.choices(spec.choices);
    command.addOption(option);
  }
  return command;
}

/** The configuration flags present in commander's parsed options. */
export function flagOverrides(opts: Record<string, unknown>): FlagOverrides {
  const out: FlagOverrides = {};
  for (const [key, { flag, attribute }] of Object.entries(CONFIG_FLAGS)) {
    const value = opts[attribute];
    if (typeof value === 'string') out[key as FlagKey] = { raw: value, flag };
  }
  return out;
}
