/**
 * The server refuses to listen beyond this machine without authentication: with
 * auth_mode = "none", every address must be a loopback one unless the operator said --insecure
 * (for a trusted private network, or a proxy that authenticates). Checked in startServer, so
 * library use is covered as well as `engram start`.
 */
import { isIP } from 'node:net';
import { EngramError } from '../../engine/index.ts';
import type { AuthMode } from './authenticator.ts';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  // IPv4-mapped IPv6 loopback (::ffff:127.0.0.1)
  return /^::ffff:127\./.test(bare);
}

export function assertSafeListen(
  hosts: readonly string[],
  options: { authMode: AuthMode; insecure: boolean },
): void {
  if (options.authMode !== 'none' || options.insecure) return;
  const exposed = hosts.find((host) => !isLoopbackHost(host));
  if (exposed === undefined) return;
  throw new EngramError(
    'ENG_INSECURE_LISTEN',
    `Refusing to listen on ${JSON.stringify(exposed)} with auth_mode = "none": anyone who can reach it could read and delete every space. Set [security] auth_mode = "api_key", listen on 127.0.0.1, or start with --insecure`,
  );
}
