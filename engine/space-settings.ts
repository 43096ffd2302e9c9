/**
 * Per-space behaviour kept in space.json `settings`, fixed when the space is created:
 * - autoLinkThreshold / autoLinkMax: a new memory is linked (both ways, weight = cosine) to at
 *   most autoLinkMax existing memories at cosine >= autoLinkThreshold. Off when absent.
 * - dedupThreshold: a new memory (without a client-chosen id) whose vector is at cosine >=
 *   dedupThreshold to an existing one is merged into it instead of stored: the existing memory
 *   keeps the higher confidence. Off when absent; never applied without a vector or with a
 *   constant one (every component equal), where similarity means nothing.
 */
import { EngramError } from './errors.ts';

export interface SpaceSettings {
  autoLinkThreshold?: number;
  autoLinkMax?: number;
  dedupThreshold?: number;
}

const KEYS = new Set(['autoLinkThreshold', 'autoLinkMax', 'dedupThreshold']);

export function checkSpaceSettings(raw: unknown): SpaceSettings {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new EngramError('ENG_OPTIONS_INVALID', 'Space settings must be an object');
  const settings: SpaceSettings = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!KEYS.has(key))
      throw new EngramError(
        'ENG_OPTIONS_INVALID',
        `Unknown space setting "${key}" (known: ${[...KEYS].join(', ')})`,
      );
    if (key === 'autoLinkMax') {
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 32) {
        throw new EngramError(
          'ENG_OPTIONS_INVALID',
          `autoLinkMax must be an integer from 1 to 32, got ${JSON.stringify(value)}`,
        );
      }
      settings.autoLinkMax = value as number;
    } else {
      if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
        throw new EngramError(
          'ENG_OPTIONS_INVALID',
          `${key} must be a number in (0, 1], got ${JSON.stringify(value)}`,
        );
      }
      settings[key as 'autoLinkThreshold' | 'dedupThreshold'] = value;
    }
  }
  return settings;
}

export function isConstant(vector: Float32Array): boolean {
  return vector.every((v) => v === vector[0]);
}
