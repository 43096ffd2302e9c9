/** `~` and `~/...` expand to the home directory; `~user` is left alone (it is rarely meant). */
import { join } from 'node:path';

export function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}
