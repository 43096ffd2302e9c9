/** An expected failure of a command: its message is printed as is and the process exits with `exitCode`. */
import { EXIT, type ExitCode } from './exit-codes.ts';

export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
  ) {
    super(message);
  }
}

/** A configuration or argument problem: exit code 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
