/**
 * The exit codes of every `engram` command (docs/cli.md lists them). Scripts branch on these, so
 * a code never changes meaning.
 */
export const EXIT = Object.freeze({
  /** Done. */
  ok: 0,
  /** The command failed: a server error, a declined confirmation, a forced stop, a degraded server. */
  failure: 1,
  /** Bad usage: an unknown flag, an invalid argument or configuration, a request the server called invalid. */
  usage: 2,
  /** No server: nothing listens at the URL, or no engram process runs on the data root. */
  unreachable: 3,
  /** The space or memory named does not exist. */
  notFound: 4,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
