/**
 * Every error a command can end with -> one line on stderr and an exit code (cli/exit-codes.ts).
 * Server errors keep the server's code and message; engine errors (from `engram start`) keep
 * theirs; anything unexpected prints its stack.
 */
import { CommanderError } from 'commander';
import { EngramHttpError, EngramUnreachableError } from '../client/http-client.ts';
import { isEngramError, type ErrorCategory } from '../engine/index.ts';
import { CliError } from './cli-error.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';

function exitForStatus(status: number): ExitCode {
  if (status === 404) return EXIT.notFound;
  if (status === 400 || status === 413 || status === 422) return EXIT.usage;
  return EXIT.failure;
}

function exitForCategory(category: ErrorCategory): ExitCode {
  if (category === 'invalid_argument') return EXIT.usage;
  if (category === 'not_found') return EXIT.notFound;
  return EXIT.failure;
}

export function reportError(
  error: unknown,
  stderr: NodeJS.WritableStream = process.stderr,
): ExitCode {
  const say = (text: string): void => void stderr.write(`engram: ${text}\n`);
  if (error instanceof CommanderError) {
    // commander has printed its own message (and help, for a missing command).
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof CliError) {
    say(error.message);
    return error.exitCode;
  }
  if (error instanceof EngramHttpError) {
    say(`${error.message} [${error.code}]`);
    return exitForStatus(error.status);
  }
  if (error instanceof EngramUnreachableError) {
    say(`${error.message} (is it running? start it with: engram start)`);
    return EXIT.unreachable;
  }
  if (isEngramError(error)) {
    say(`${error.message} [${error.code}]`);
    return exitForCategory(error.category);
  }
  const listen = error as NodeJS.ErrnoException;
  if (listen.code === 'EADDRINUSE' || listen.code === 'EACCES' || listen.code === 'EADDRNOTAVAIL') {
    say(`cannot listen: ${listen.message}`);
    return EXIT.failure;
  }
  stderr.write(`engram: unexpected error\n${(error as Error).stack ?? String(error)}\n`);
  return EXIT.failure;
}
