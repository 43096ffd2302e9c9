/**
 * A progress bar on stderr for long work, shown only when stderr is a terminal: piped or
 * redirected output (and every test) gets no control characters.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** One item done; `label` names it (e.g. the space just opened). */
  tick(label: string): void;
  /** Sets how much is done (bytes, lines) for work counted in units rather than items. */
  set(done: number): void;
  stop(): void;
}

const SILENT: Progress = { tick: () => undefined, set: () => undefined, stop: () => undefined };

export function startProgress(
  title: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!stream.isTTY || total === 0) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${title} [{bar}] {value}/{total} {label}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  return {
    tick: (label) => bar.increment(1, { label }),
    set: (done) => bar.update(Math.min(done, total)),
    stop: () => bar.stop(),
  };
}
