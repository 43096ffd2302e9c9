#!/usr/bin/env node
/**
 * The `engram` command: argument parsing -> configuration -> start the server, or talk to a
 * running one over HTTP. Commands are in commands/, exit codes in exit-codes.ts.
 */
import { buildProgram } from './program.ts';
import { reportError } from './report-error.ts';

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.exitCode = reportError(error);
  });
