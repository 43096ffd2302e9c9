/**
 * What one request may do: the authenticated key (or none when auth_mode = "none") and the
 * permission its route or RPC declared. Transports ask it at the exact point where they resolve
 * the space a request is routed to, so a space is never reached without the question being
 * asked; a listing asks it for each space it would show.
 */
import { EngramError } from '../../engine/index.ts';
import { ALL_SPACES, type ApiKeyRecord, type Permission } from './api-key.ts';

export class Access {
  /** Set once a space was checked (the HTTP layer refuses to answer a space route otherwise). */
  spaceChecked = false;

  private constructor(
    /** The key, or null when authentication is off. */
    readonly key: ApiKeyRecord | null,
    readonly permission: Permission,
  ) {}

  /** auth_mode = "none": everything is allowed. */
  static open(permission: Permission): Access {
    return new Access(null, permission);
  }

  /** A key that holds `permission` (ENG_AUTH_PERMISSION_DENIED otherwise). */
  static forKey(key: ApiKeyRecord, permission: Permission): Access {
    if (!key.permissions.includes(permission)) {
      throw new EngramError(
        'ENG_AUTH_PERMISSION_DENIED',
        `API key "${key.id}" lacks the "${permission}" permission this call needs`,
        { details: { permission } },
      );
    }
    return new Access(key, permission);
  }

  get allSpaces(): boolean {
    return this.key === null || this.key.spaces.includes(ALL_SPACES);
  }

  allowsSpace(id: string): boolean {
    return this.allSpaces || this.key!.spaces.includes(id);
  }

  /** The space a request is routed to: allowed, or ENG_AUTH_SPACE_DENIED. */
  requireSpace(id: string): void {
    if (!this.allowsSpace(id)) {
      throw new EngramError(
        'ENG_AUTH_SPACE_DENIED',
        `API key "${this.key!.id}" may not use space "${id}"`,
      );
    }
    this.spaceChecked = true;
  }

  /** Calls that reach every space (metrics, backups by name, keys): only a key for "*". */
  requireAllSpaces(): void {
    if (!this.allSpaces) {
      throw new EngramError(
        'ENG_AUTH_SPACE_DENIED',
        `API key "${this.key!.id}" is limited to some spaces; this call needs a key for every space ("*")`,
      );
    }
    this.spaceChecked = true;
  }
}
