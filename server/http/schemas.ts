/**
 * JSON schemas for every body and query string. Unknown fields on writes are rejected
 * (additionalProperties: false, with ajv's removeAdditional turned off), so a misspelled field
 * is an error rather than silently dropped.
 */
const spaceFields = {
  memory_space: { type: 'string' },
  memory_space_id: { type: 'string' },
} as const;

const embedding = { type: 'array', items: { type: 'number' }, minItems: 1 } as const;
const tags = { type: 'array', items: { type: 'string' } } as const;
const time = { anyOf: [{ type: 'string' }, { type: 'number' }] } as const;
const memoryType = { type: 'string', enum: ['episodic', 'semantic', 'procedural'] } as const;

export const rememberFields = {
  id: { type: 'string' },
  memory_id: { type: 'string' },
  content: { type: 'string' },
  embedding,
  confidence: { type: 'number' },
  memory_type: memoryType,
  tags,
  metadata: { type: 'object' },
  observed_at: time,
} as const;

export const rememberBody = {
  type: 'object',
  additionalProperties: false,
  required: ['content'],
  properties: { ...rememberFields, ...spaceFields },
} as const;

export function batchBody(maxItems: number) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['memories'],
    properties: {
      ...spaceFields,
      // Items are validated one by one by the engine, so one bad item fails alone.
      memories: { type: 'array', minItems: 1, maxItems, items: { type: 'object' } },
    },
  } as const;
}

export const episodeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['what'],
  properties: {
    ...spaceFields,
    id: { type: 'string' },
    when: time,
    what: { type: 'string' },
    where: { type: 'string' },
    who: { type: 'array', items: { type: 'string' } },
    why: { type: 'string' },
    how: { type: 'string' },
    importance: { type: 'number' },
    content: { type: 'string' },
    embedding,
    confidence: { type: 'number' },
    tags,
    metadata: { type: 'object' },
  },
} as const;

const filterFields = {
  tags,
  memory_types: { type: 'array', items: memoryType },
  observed_after: time,
  observed_before: time,
  min_confidence: { type: 'number' },
} as const;

export const recallBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...spaceFields,
    query: { type: 'string' },
    embedding,
    k: { type: 'integer' },
    mode: { type: 'string' },
    threshold: { type: 'number' },
    include_suppressed: { type: 'boolean' },
    include_cold: { type: 'boolean' },
    filters: { type: 'object', additionalProperties: false, properties: filterFields },
    spread: {
      type: 'object',
      additionalProperties: false,
      properties: {
        seeds: { type: 'integer' },
        hops: { type: 'integer' },
        fan_out: { type: 'integer' },
        decay: { type: 'number' },
      },
    },
  },
} as const;

export const recallQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['query'],
  properties: {
    space: { type: 'string' },
    query: { type: 'string' },
    k: { type: 'integer' },
    mode: { type: 'string' },
    threshold: { type: 'number' },
    include_suppressed: { type: 'boolean' },
    include_cold: { type: 'boolean' },
    tags: { type: 'string' },
    memory_type: memoryType,
    min_confidence: { type: 'number' },
    observed_after: { type: 'string' },
    observed_before: { type: 'string' },
  },
} as const;

export const spaceOnlyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { space: { type: 'string' } },
} as const;

export const deleteQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { space: { type: 'string' }, mode: { type: 'string', enum: ['delete', 'suppress'] } },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    space: { type: 'string' },
    cursor: { type: 'string' },
    limit: { type: 'integer' },
    tier: { type: 'string' },
  },
} as const;

export const patchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ...spaceFields,
    content: { type: 'string' },
    confidence: { type: 'number' },
    memory_type: memoryType,
    tags,
    metadata: { type: 'object' },
    suppressed: { type: 'boolean' },
  },
} as const;

export const associationBody = {
  type: 'object',
  additionalProperties: false,
  required: ['target_id'],
  properties: { ...spaceFields, target_id: { type: 'string' }, weight: { type: 'number' } },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1 } },
} as const;

export const createSpaceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    id: { type: 'string' },
    dimension: { type: 'integer' },
    embedder: { type: 'string' },
    auto_link_threshold: { type: 'number' },
    auto_link_max: { type: 'integer' },
    dedup_threshold: { type: 'number' },
  },
} as const;
