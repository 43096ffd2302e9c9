import { EngramError } from './errors.ts';

declare const spaceIdBrand: unique symbol;
/** A validated space id. Only parseSpaceId makes one, so a SpaceId in a signature is proof of validation. */
export type SpaceId = string & { readonly [spaceIdBrand]: true };

export const SPACE_ID_RULE = '3-64 characters of a-z, 0-9, "-" and "_"';
const SPACE_ID_PATTERN = /^[a-z0-9_-]{3,64}$/;

export function parseSpaceId(raw: unknown): SpaceId {
  if (typeof raw !== 'string') {
    throw new EngramError('ENG_SPACE_ID_INVALID', `Space id must be a string of ${SPACE_ID_RULE}`, {
      details: { rule: SPACE_ID_RULE },
    });
  }
  const id = raw.trim();
  if (!SPACE_ID_PATTERN.test(id)) {
    const shown = id.length > 80 ? `${id.slice(0, 80)}…` : id;
    throw new EngramError(
      'ENG_SPACE_ID_INVALID',
      `Invalid space id ${JSON.stringify(shown)}: it must be ${SPACE_ID_RULE}`,
      {
        details: { rule: SPACE_ID_RULE },
      },
    );
  }
  return id as SpaceId;
}

export function isValidSpaceId(raw: string): boolean {
  return SPACE_ID_PATTERN.test(raw);
}
