/**
 * Turning one raw value into a typed configuration value: from TOML (already typed) or from
 * text (an environment variable or a flag). Every error names the key and where the value came
 * from, so the fix is obvious: `server.port (from ENGRAM_PORT) must be an integer ...`.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { usageError, type CliError } from '../cli-error.ts';
import type { ConfigValue, KeySpec } from './config-schema.ts';
import { expandTilde } from './expand-tilde.ts';

export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** Where a value came from, for messages: "set in /etc/engram.toml", "from ENGRAM_PORT", "from --port". */
export interface ValueOrigin {
  source: ConfigSource;
  /** The file path, the variable name or the flag. */
  name: string;
}

export function describeOrigin(origin: ValueOrigin): string {
  switch (origin.source) {
    case 'file':
      return `set in ${origin.name}`;
    case 'env':
    case 'flag':
      return `from ${origin.name}`;
    case 'default':
      return 'default';
  }
}

function bad(key: string, origin: ValueOrigin, expected: string, got: unknown): CliError {
  return usageError(
    `${key} (${describeOrigin(origin)}) must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`,
  );
}

function checkInteger(key: string, spec: KeySpec, value: number, origin: ValueOrigin): number {
  if (spec.type !== 'integer') return value;
  const { min, max } = spec;
  if (!Number.isSafeInteger(value)) throw bad(key, origin, 'an integer', value);
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw bad(key, origin, `an integer from ${min ?? '-∞'} to ${max ?? '∞'}`, value);
  }
  return value;
}

function checkChoice(key: string, spec: KeySpec, value: string, origin: ValueOrigin): string {
  if (spec.type === 'string' && spec.choices && !spec.choices.includes(value)) {
    throw bad(key, origin, `one of ${spec.choices.map((c) => `"${c}"`).join(', ')}`, value);
  }
  return value;
}

/**
 * A path is made absolute here, once: `~` expands; a relative path in the file is relative to
 * the file's directory (so a config file can sit beside its data), elsewhere to the working
 * directory.
 */
export function absolutePath(raw: string, origin: ValueOrigin, home: string, cwd: string): string {
  const expanded = expandTilde(raw.trim(), home);
  if (isAbsolute(expanded)) return expanded;
  return resolve(origin.source === 'file' ? dirname(origin.name) : cwd, expanded);
}

export interface PathContext {
  home: string;
  cwd: string;
}

/** A value from the TOML file, which has types of its own: they must match. */
export function valueFromToml(
  key: string,
  spec: KeySpec,
  raw: unknown,
  origin: ValueOrigin,
  paths: PathContext,
): ConfigValue {
  switch (spec.type) {
    case 'integer':
      if (typeof raw !== 'number') throw bad(key, origin, 'an integer', raw);
      return checkInteger(key, spec, raw, origin);
    case 'boolean':
      if (typeof raw !== 'boolean') throw bad(key, origin, 'true or false', raw);
      return raw;
    case 'list':
      if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string')) {
        throw bad(key, origin, 'a list of strings', raw);
      }
      return Object.freeze([...(raw as string[])]);
    case 'path':
      if (typeof raw !== 'string' || raw.trim() === '') throw bad(key, origin, 'a path', raw);
      return absolutePath(raw, origin, paths.home, paths.cwd);
    case 'string':
      if (typeof raw !== 'string') throw bad(key, origin, 'a string', raw);
      return checkChoice(key, spec, raw, origin);
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** A value given as text (environment variable or flag), parsed by the key's type. */
export function valueFromText(
  key: string,
  spec: KeySpec,
  raw: string,
  origin: ValueOrigin,
  paths: PathContext,
): ConfigValue {
  const text = raw.trim();
  switch (spec.type) {
    case 'integer':
      if (!/^-?\d+$/.test(text)) throw bad(key, origin, 'an integer', raw);
      return checkInteger(key, spec, Number(text), origin);
    case 'boolean':
      if (TRUE.has(text.toLowerCase())) return true;
      if (FALSE.has(text.toLowerCase())) return false;
      throw bad(key, origin, 'true or false', raw);
    case 'list':
      return Object.freeze(
        text
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
      );
    case 'path':
      if (text === '') throw bad(key, origin, 'a path', raw);
      return absolutePath(text, origin, paths.home, paths.cwd);
    case 'string':
      return checkChoice(key, spec, text, origin);
  }
}
