/** The command tree: every command has help, the data-printing ones have --json. */
import assert from 'node:assert/strict';
import { CommanderError, type Command } from 'commander';
import { test } from 'node:test';
import { buildProgram } from '../../cli/program.ts';
import { runCli } from '../helpers/engram-cli.ts';

const DATA_COMMANDS = [
  'status',
  'space create',
  'space list',
  'space delete',
  'space stats',
  'remember',
  'recall',
  'forget',
  'config show',
];

function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands
    .filter((sub) => sub.name() !== 'help')
    .flatMap((sub) => [[...prefix, sub.name()], ...commandPaths(sub, [...prefix, sub.name()])]);
}

function find(path: string): Command {
  let command = buildProgram();
  for (const name of path.split(' ')) command = command.commands.find((c) => c.name() === name)!;
  return command;
}

test('every command and sub-command answers --help with a description and exit code 0', async () => {
  const paths = commandPaths(buildProgram());
  assert.ok(paths.length >= 13, `found ${paths.length} commands`);
  for (const path of paths) {
    const program = buildProgram();
    let out = '';
    const capture = (command: Command): void => {
      command.configureOutput({
        writeOut: (text) => (out += text),
        writeErr: (text) => (out += text),
      });
      command.commands.forEach(capture);
    };
    capture(program);
    await assert.rejects(
      program.parseAsync(['node', 'engram', ...path, '--help']),
      (error: unknown) => error instanceof CommanderError && error.exitCode === 0,
      path.join(' '),
    );
    assert.match(out, new RegExp(`^Usage: engram ${path.join(' ')}`), path.join(' '));
    assert.ok(
      find(path.join(' ')).description().length > 10,
      `${path.join(' ')} has a description`,
    );
  }
});

test('every command that prints data has --json', () => {
  for (const path of DATA_COMMANDS) {
    assert.ok(
      find(path).options.some((option) => option.long === '--json'),
      `${path} has --json`,
    );
  }
});

test('the installed binary prints help and exits 0; no command at all exits 2', async () => {
  const help = await runCli(['space', 'delete', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--yes/);
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: engram/);
});
