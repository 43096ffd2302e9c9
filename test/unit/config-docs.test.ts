/** docs/cli.md documents every configuration key (default and variable), every command and every exit code. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { CONFIG_KEYS, specOf } from '../../cli/config/config-schema.ts';
import { EXIT } from '../../cli/exit-codes.ts';
import { buildProgram } from '../../cli/program.ts';

const doc = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8');

test('every configuration key is documented in a row with its default and its variable', () => {
  for (const key of CONFIG_KEYS) {
    const spec = specOf(key);
    const row = doc
      .split('\n')
      .find((line) => line.startsWith('|') && line.includes(`\`${spec.env}\``));
    assert.ok(row, `${key}: no row with ${spec.env}`);
    const leaf = key.slice(key.lastIndexOf('.') + 1);
    assert.match(
      row,
      new RegExp(`\\| \`(${key.replace(/\./g, '\\.')}|${leaf})\``),
      `${key}: row names the key`,
    );
    const shown =
      typeof spec.default === 'string' ? `"${spec.default}"` : JSON.stringify(spec.default);
    assert.ok(row.includes(`\`${shown}\``), `${key}: row shows the default ${shown}`);
  }
});

test('every command is documented', () => {
  const paths = (command = buildProgram(), prefix = ''): string[] =>
    command.commands
      .filter((sub) => sub.name() !== 'help')
      .flatMap((sub) => {
        const path = `${prefix}${sub.name()}`;
        return sub.commands.length > 0 ? paths(sub, `${path} `) : [path];
      });
  for (const path of paths()) assert.ok(doc.includes(`\`engram ${path}`), `engram ${path}`);
});

test('every exit code is documented', () => {
  for (const code of Object.values(EXIT)) assert.match(doc, new RegExp(`^\\| ${code} +\\|`, 'm'));
});
