/** The `engram` command tree: every command, from commands/, with one error policy. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { configCommand } from './commands/config.ts';
import { keysCommand } from './commands/keys.ts';
import { forgetCommand, recallCommand, rememberCommand } from './commands/memory.ts';
import { spaceCommand } from './commands/space.ts';
import { startCommand } from './commands/start.ts';
import { statusCommand } from './commands/status.ts';
import { stopCommand } from './commands/stop.ts';
import { backupCommand } from './commands/backup.ts';
import { exportCommand, importCommand } from './commands/transfer.ts';
import { verifyCommand } from './commands/verify.ts';
import { migrateCommand } from './commands/migrate.ts';

const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

export function buildProgram(): Command {
  const program = new Command()
    .name('engram')
    .description('Engram: a memory engine for AI agents')
    .version(version);
  for (const command of [
    startCommand(),
    stopCommand(),
    statusCommand(),
    spaceCommand(),
    rememberCommand(),
    recallCommand(),
    forgetCommand(),
    configCommand(),
    backupCommand(),
    exportCommand(),
    importCommand(),
    verifyCommand(),
    migrateCommand(),
    keysCommand(),
  ]) {
    program.addCommand(command);
  }
  // Errors are thrown to one place (reportError) instead of exiting inside commander. addCommand
  // does not pass settings down, so every command gets them.
  const configure = (command: Command): void => {
    command.exitOverride().showHelpAfterError();
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}
