/**
 * The parsed TOML document -> (key, raw value) pairs. Every table and key must be known: an
 * unknown one is an error with a hint for a near miss, so a misspelled setting never silently
 * falls back to its default.
 */
import { TomlDate } from 'smol-toml';
import { usageError } from '../cli-error.ts';
import { CONFIG_KEYS, KEY_ALIASES, REFUSED_KEYS, type ConfigKey } from './config-schema.ts';
import { nearestName } from './near-miss.ts';

/** Every table that holds keys: "server", "embedder", "embedder.openai", ... */
export const CONFIG_TABLES: readonly string[] = Object.freeze([
  ...new Set(
    CONFIG_KEYS.flatMap((key) => {
      const parts = key.split('.');
      return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('.'));
    }),
  ),
]);

const KNOWN_KEYS = new Set<string>(CONFIG_KEYS);
const KNOWN_TABLES = new Set(CONFIG_TABLES);

function isTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof TomlDate)
  );
}

function unknownKey(path: string, file: string, isSection: boolean): Error {
  const hint = KEY_ALIASES[path] ?? nearestName(path, [...CONFIG_KEYS, ...CONFIG_TABLES]);
  const what = isSection ? `section [${path}]` : `key "${path}"`;
  const meant = hint === undefined ? '' : KNOWN_TABLES.has(hint) ? `[${hint}]` : `"${hint}"`;
  return usageError(
    `Unknown ${what} in ${file}${hint === undefined ? '' : ` (did you mean ${meant}?)`}`,
  );
}

function refused(path: string, file: string): Error | undefined {
  const parts = path.split('.');
  for (let i = parts.length; i > 0; i--) {
    const reason = REFUSED_KEYS[parts.slice(0, i).join('.')];
    if (reason !== undefined) return usageError(`Unsupported key "${path}" in ${file}: ${reason}`);
  }
  return undefined;
}

export function flattenConfigTable(
  table: Record<string, unknown>,
  file: string,
): Array<[ConfigKey, unknown]> {
  const out: Array<[ConfigKey, unknown]> = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      if (KNOWN_KEYS.has(path)) {
        out.push([path as ConfigKey, value]);
        continue;
      }
      if (KNOWN_TABLES.has(path)) {
        if (!isTable(value)) throw usageError(`"${path}" in ${file} must be a table ([${path}])`);
        walk(value, path);
        continue;
      }
      // An empty section with no settings yet (e.g. [security]) is fine; anything in it is not.
      if (isTable(value) && REFUSED_KEYS[path] !== undefined) {
        const first = Object.keys(value)[0];
        if (first !== undefined) throw refused(`${path}.${first}`, file)!;
        continue;
      }
      throw refused(path, file) ?? unknownKey(path, file, isTable(value));
    }
  };
  walk(table, '');
  return out;
}
