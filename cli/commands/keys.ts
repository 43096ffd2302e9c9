/**
 * `engram keys create|list|revoke`: API keys in the data root's key file (server/auth), worked
 * on directly, so they work with or without a running server. A running server sees every
 * change on its next request (it re-reads the file when it changes), revocation included.
 */
import { Command, InvalidArgumentError } from 'commander';
import {
  keyToWire,
  PERMISSIONS,
  type ApiKeyRecord,
  type Permission,
} from '../../server/auth/api-key.ts';
import { FileKeyStore } from '../../server/auth/file-key-store.ts';
import { createKey, revokeKey } from '../../server/auth/key-admin.ts';
import { addConfigFlags, flagOverrides } from '../config/config-flags.ts';
import { loadConfig } from '../config/load-config.ts';
import { printJson, printLine, printNote } from '../output/print.ts';
import { cell, formatTable } from '../output/table.ts';

type StoreFlags = Record<string, unknown> & { json?: boolean };

function storeOf(opts: StoreFlags): FileKeyStore {
  const config = loadConfig({
    configPath: opts.config as string | undefined,
    flags: flagOverrides(opts),
  });
  return FileKeyStore.forDataRoot(config.values['persistence.data_root']);
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function permissions(raw: string): Permission[] {
  const items = list(raw);
  const unknown = items.find((item) => !PERMISSIONS.includes(item as Permission));
  if (unknown !== undefined) {
    throw new InvalidArgumentError(`"${unknown}" is not one of ${PERMISSIONS.join(', ')}`);
  }
  return items as Permission[];
}

function state(key: ApiKeyRecord, now = Date.now()): string {
  if (key.revokedAt !== null) return `revoked ${key.revokedAt}`;
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

async function create(
  opts: StoreFlags & { name: string; spaces: string; permissions: Permission[]; expires?: string },
): Promise<void> {
  // The same creation as the admin HTTP route and RPC (server/auth/key-admin.ts).
  const { record, token } = await createKey(storeOf(opts), {
    name: opts.name,
    spaces: list(opts.spaces),
    permissions: opts.permissions,
    expiresIn: opts.expires,
  });
  if (opts.json) return printJson({ key: token, ...keyToWire(record) });
  printLine(token);
  printNote(
    `created API key ${record.id} ("${record.name}": ${record.permissions.join(',')} on ${record.spaces.join(',')}${record.expiresAt ? `, expires ${record.expiresAt}` : ''}). ` +
      'The key above is shown only now: store it safely.',
  );
}

async function listKeys(opts: StoreFlags): Promise<void> {
  const keys = await storeOf(opts).list();
  if (opts.json) return printJson(keys.map(keyToWire));
  if (keys.length === 0) return printLine('no API keys');
  printLine(
    formatTable(
      [
        { header: 'ID' },
        { header: 'Name' },
        { header: 'Spaces' },
        { header: 'Permissions' },
        { header: 'Expires' },
        { header: 'State' },
      ],
      keys.map((key) => [
        key.id,
        key.name,
        key.spaces.join(','),
        key.permissions.join(','),
        cell(key.expiresAt),
        state(key),
      ]),
    ),
  );
}

async function revoke(id: string, opts: StoreFlags): Promise<void> {
  const key = await revokeKey(storeOf(opts), id);
  if (opts.json) return printJson(keyToWire(key));
  printLine(`revoked API key ${key.id} ("${key.name}") at ${key.revokedAt}`);
}

export function keysCommand(): Command {
  const keys = new Command('keys').description(
    "create, list and revoke API keys (in the data root's .keys/keys.json)",
  );
  const withStore = (command: Command): Command =>
    addConfigFlags(command, ['persistence.data_root']).option('--json', 'print JSON');
  keys.addCommand(
    withStore(new Command('create'))
      .description('create an API key and print it (once)')
      .requiredOption('--name <name>', 'what the key is for')
      .requiredOption('--spaces <ids>', 'comma-separated space ids, or * for every space')
      .requiredOption(
        '--permissions <list>',
        `comma-separated: ${PERMISSIONS.join(', ')}`,
        permissions,
      )
      .option('--expires <duration>', 'expire after this long: 90m, 12h, 30d')
      .action(create),
  );
  keys.addCommand(
    withStore(new Command('list'))
      .description('list API keys (never their secrets)')
      .action(listKeys),
  );
  keys.addCommand(
    withStore(new Command('revoke'))
      .description('revoke an API key; a running server refuses it from its next request')
      .argument('<id>', 'key id (the part after engram_ in the key)')
      .action(revoke),
  );
  return keys;
}
