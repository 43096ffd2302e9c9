/**
 * `engram remember|recall|forget`: memory calls against the running server, in the space named
 * by --space, else ENGRAM_MEMORY_SPACE, else [memory_spaces] default_space, sent as the
 * X-Memory-Space header.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { MemoryType, RecallMode } from '../../client/http-client.ts';
import { addClientFlags, clientContext, type ClientFlags } from '../client-context.ts';
import { printJson, printLine } from '../output/print.ts';
import { formatTable } from '../output/table.ts';

const MEMORY_TYPES = ['episodic', 'semantic', 'procedural'] as const;
const RECALL_MODES = ['similarity', 'lexical', 'hybrid', 'spreading'] as const;
const CONTENT_COLUMN_CHARS = 60;

type JsonFlag = { json?: boolean };

function fraction(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError('must be a number from 0 to 1');
  }
  return value;
}

function positiveInteger(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError('must be an integer of at least 1');
  return value;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** One line, at most `max` characters: content can hold newlines and be long. */
function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

async function remember(
  text: string,
  opts: ClientFlags &
    JsonFlag & { confidence?: number; tag?: string[]; id?: string; type?: MemoryType },
): Promise<void> {
  const ctx = clientContext(opts);
  const space = ctx.space().value;
  const stored = await ctx.client.remember(space, {
    content: text,
    ...(opts.id === undefined ? {} : { id: opts.id }),
    ...(opts.confidence === undefined ? {} : { confidence: opts.confidence }),
    ...(opts.tag === undefined ? {} : { tags: opts.tag }),
    ...(opts.type === undefined ? {} : { memory_type: opts.type }),
  });
  if (opts.json) return printJson(stored);
  printLine(`remembered ${stored.memory_id} in space ${stored.memory_space} (lsn ${stored.lsn})`);
}

async function recall(
  query: string,
  opts: ClientFlags & JsonFlag & { k?: number; mode?: RecallMode },
): Promise<void> {
  const ctx = clientContext(opts);
  const space = ctx.space().value;
  const result = await ctx.client.recall(space, {
    query,
    ...(opts.k === undefined ? {} : { k: opts.k }),
    ...(opts.mode === undefined ? {} : { mode: opts.mode }),
  });
  if (opts.json) return printJson(result);
  if (result.memories.length === 0)
    return printLine(`no memories found in space ${result.memory_space}`);
  printLine(
    formatTable(
      [
        { header: '#', align: 'right' },
        { header: 'Score', align: 'right' },
        { header: 'ID' },
        { header: 'Content' },
        { header: 'Tags' },
      ],
      result.memories.map((hit, i) => [
        String(i + 1),
        hit.score.toFixed(3),
        hit.id,
        shorten(hit.content, CONTENT_COLUMN_CHARS),
        hit.tags.join(','),
      ]),
    ),
  );
}

async function forget(
  id: string,
  opts: ClientFlags & JsonFlag & { suppress?: boolean },
): Promise<void> {
  const ctx = clientContext(opts);
  const space = ctx.space().value;
  const result = await ctx.client.forget(space, id, opts.suppress ? { mode: 'suppress' } : {});
  if (opts.json) return printJson(result);
  printLine(
    `${result.suppressed ? 'suppressed' : 'forgot'} ${result.memory_id} in space ${result.memory_space}`,
  );
}

export function rememberCommand(): Command {
  const command = new Command('remember')
    .description('store a memory (durable when this returns)')
    .argument('<text>', "the memory's content")
    .option('--id <id>', 'memory id (default: one the server generates)')
    .option('--confidence <0..1>', "confidence (default: the server's)", fraction)
    .option('--tag <tag>', 'a tag; repeat for more', collect)
    .addOption(new Option('--type <type>', 'memory type (default semantic)').choices(MEMORY_TYPES))
    .option('--json', 'print the stored memory as JSON');
  return addClientFlags(command, { space: true }).action(remember);
}

export function recallCommand(): Command {
  const command = new Command('recall')
    .description('find the memories that best match a text query')
    .argument('<query>', 'text to match')
    .option('-k, --k <n>', 'how many results (default 10)', positiveInteger)
    .addOption(
      new Option(
        '--mode <mode>',
        'how to match (default: hybrid when the space has an embedder)',
      ).choices(RECALL_MODES),
    )
    .option('--json', "print the server's answer as JSON");
  return addClientFlags(command, { space: true }).action(recall);
}

export function forgetCommand(): Command {
  const command = new Command('forget')
    .description('delete a memory (or hide it from recall with --suppress)')
    .argument('<id>', 'memory id')
    .option('--suppress', 'keep the memory but hide it from recall')
    .option('--json', "print the server's answer as JSON");
  return addClientFlags(command, { space: true }).action(forget);
}
