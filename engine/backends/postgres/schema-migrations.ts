/**
 * The versioned schema of the PostgreSQL backend, one step per version; migrate.ts applies the
 * missing ones in order. A step, once released, never changes: a change is a new step.
 *
 * Layout (docs/postgres.md): every tenant table is keyed by (space_id, ...), has row-level
 * security enabled and forced, and the policy `space_id = current_setting('app.current_space',
 * true)`, so a query that did not set its space sees nothing. `memories` is LIST-partitioned by
 * space: one partition per space, created by create_space_storage(), holding that space's own
 * HNSW index on `(embedding::vector(n))` once its dimension is known. The `embedding` column is
 * an unconstrained `vector`, so spaces of different dimensions share one table.
 */

export type VectorStorage = 'pgvector' | 'float4-array';

export interface MigrationContext {
  /** Quoted schema identifier, e.g. "engram". */
  schema: string;
  /** The bare schema name, for format() inside functions. */
  schemaName: string;
  /** Quoted application role identifier. */
  appRole: string;
  appRoleName: string;
  vectorStorage: VectorStorage;
  /** Quoted schema of the vector extension (pgvector storage only). */
  vectorSchema: string;
}

export interface Migration {
  version: number;
  name: string;
  statements(ctx: MigrationContext): string[];
}

const SCOPE = `current_setting('app.current_space', true)`;

/** RLS enabled and forced (the table owner is held to it too) with the space policy. */
function isolate(ctx: MigrationContext, table: string): string[] {
  return [
    `ALTER TABLE ${ctx.schema}.${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${ctx.schema}.${table} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY space_isolation ON ${ctx.schema}.${table} USING (space_id = ${SCOPE}) WITH CHECK (space_id = ${SCOPE})`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ${ctx.schema}.${table} TO ${ctx.appRole}`,
  ];
}

/** The check every space-DDL function starts with: only the transaction's own space. */
const SCOPE_CHECK = `
  IF p_space IS NULL OR p_space !~ '^[a-z0-9_-]{3,64}$' OR p_space IS DISTINCT FROM ${SCOPE} THEN
    RAISE EXCEPTION 'space % is not the space of this transaction', p_space USING ERRCODE = '42501';
  END IF;`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'application role and vector type',
    statements: (ctx) => [
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ctx.appRoleName}') THEN
           CREATE ROLE ${ctx.appRole} NOLOGIN NOBYPASSRLS;
         END IF;
       END $$`,
      `GRANT USAGE ON SCHEMA ${ctx.schema} TO ${ctx.appRole}`,
      `GRANT SELECT ON ${ctx.schema}.schema_migrations TO ${ctx.appRole}`,
      ...(ctx.vectorStorage === 'pgvector'
        ? [`CREATE EXTENSION IF NOT EXISTS vector`]
        : [
            // Exact cosine distance in float8 over float4 arrays, for servers without pgvector.
            `CREATE FUNCTION ${ctx.schema}.cosine_distance(a real[], b real[]) RETURNS double precision
               LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
                 SELECT 1 - sum(x::float8 * y::float8) / sqrt(sum(x::float8 * x::float8) * sum(y::float8 * y::float8))
                 FROM unnest(a, b) AS t(x, y)
               $$`,
            `GRANT EXECUTE ON FUNCTION ${ctx.schema}.cosine_distance(real[], real[]) TO ${ctx.appRole}`,
          ]),
    ],
  },
  {
    version: 2,
    name: 'spaces catalogue',
    statements: (ctx) => [
      `CREATE TABLE ${ctx.schema}.spaces (
         space_id text COLLATE "C" PRIMARY KEY,
         space_key bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
         created_at timestamptz NOT NULL DEFAULT now(),
         dimension integer,
         embedder text,
         last_lsn bigint NOT NULL DEFAULT 0,
         memories bigint NOT NULL DEFAULT 0,
         lexical_tokens bigint NOT NULL DEFAULT 0,
         events_pruned_through bigint NOT NULL DEFAULT 0,
         settings json NOT NULL DEFAULT '{}'
       )`,
      ...isolate(ctx, 'spaces'),
      // The catalogue (ids, dimensions, counts: no memory data) is listed under the scope '*',
      // which no tenant table's policy accepts.
      `CREATE POLICY catalogue_read ON ${ctx.schema}.spaces FOR SELECT USING (${SCOPE} = '*')`,
    ],
  },
  {
    version: 3,
    name: 'memories partitioned by space',
    statements: (ctx) => [
      `CREATE TABLE ${ctx.schema}.memories (
         space_id text COLLATE "C" NOT NULL,
         id text COLLATE "C" NOT NULL,
         content text NOT NULL,
         metadata json NOT NULL,
         confidence double precision NOT NULL,
         memory_type text NOT NULL,
         tags text[] NOT NULL,
         observed_at bigint NOT NULL,
         suppressed boolean NOT NULL,
         episode json,
         consolidation json,
         cited text[] COLLATE "C" NOT NULL DEFAULT '{}',
         stored_at bigint NOT NULL,
         updated_at bigint NOT NULL,
         lsn bigint NOT NULL,
         embedding ${ctx.vectorStorage === 'pgvector' ? `${ctx.vectorSchema}.vector` : 'real[]'},
         lexemes tsvector NOT NULL,
         token_count integer NOT NULL,
         PRIMARY KEY (space_id, id)
       ) PARTITION BY LIST (space_id)`,
      `CREATE INDEX memories_lexemes ON ${ctx.schema}.memories USING gin (lexemes)`,
      // Which consolidated memories cite a memory (consolidation.sources), for purging on delete.
      `CREATE INDEX memories_cited ON ${ctx.schema}.memories USING gin (cited)`,
      ...isolate(ctx, 'memories'),
    ],
  },
  {
    version: 4,
    name: 'associations and access statistics',
    statements: (ctx) => [
      `CREATE TABLE ${ctx.schema}.associations (
         space_id text COLLATE "C" NOT NULL,
         from_id text COLLATE "C" NOT NULL,
         to_id text COLLATE "C" NOT NULL,
         weight double precision NOT NULL,
         PRIMARY KEY (space_id, from_id, to_id)
       )`,
      `CREATE INDEX associations_to ON ${ctx.schema}.associations (space_id, to_id)`,
      ...isolate(ctx, 'associations'),
      `CREATE TABLE ${ctx.schema}.access (
         space_id text COLLATE "C" NOT NULL,
         id text COLLATE "C" NOT NULL,
         count bigint NOT NULL,
         last_access bigint NOT NULL,
         since bigint NOT NULL,
         PRIMARY KEY (space_id, id)
       )`,
      ...isolate(ctx, 'access'),
    ],
  },
  {
    version: 5,
    name: 'events',
    statements: (ctx) => [
      `CREATE TABLE ${ctx.schema}.events (
         space_id text COLLATE "C" NOT NULL,
         lsn bigint NOT NULL,
         type text NOT NULL,
         memory_id text NOT NULL,
         at bigint NOT NULL,
         detail json NOT NULL,
         PRIMARY KEY (space_id, lsn)
       )`,
      `CREATE INDEX events_at ON ${ctx.schema}.events (space_id, at)`,
      ...isolate(ctx, 'events'),
    ],
  },
  {
    version: 6,
    name: 'space storage functions',
    statements: (ctx) => {
      const s = ctx.schemaName;
      // SECURITY DEFINER: the application role may not own tables, so partition and index DDL
      // runs as the schema owner, and only for the space the calling transaction is scoped to.
      const definer = `LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp`;
      const keyOf = `
  SELECT space_key INTO v_key FROM ${ctx.schema}.spaces WHERE space_id = p_space;
  IF v_key IS NULL THEN
    RAISE EXCEPTION 'no space %', p_space USING ERRCODE = 'P0002';
  END IF;
  v_part := 'memories_' || v_key;`;
      const index =
        ctx.vectorStorage === 'pgvector'
          ? `
  -- pgvector's HNSW indexes vectors of at most 2,000 dimensions; larger spaces are searched exactly.
  IF p_dimension BETWEEN 1 AND 2000 THEN
    EXECUTE format(
      'CREATE INDEX IF NOT EXISTS %I ON %I.%I USING hnsw ((embedding::${ctx.vectorSchema}.vector(%s)) ${ctx.vectorSchema}.vector_cosine_ops) WITH (m = %s, ef_construction = %s)',
      v_part || '_hnsw', '${s}', v_part, p_dimension, p_m, p_ef_construction);
  END IF;`
          : `
  -- float4 arrays have no index: these spaces are searched exactly.
  PERFORM p_dimension, p_m, p_ef_construction;`;
      return [
        `CREATE FUNCTION ${ctx.schema}.create_space_storage(p_space text) RETURNS void ${definer} AS $fn$
DECLARE
  v_key bigint;
  v_part text;
BEGIN${SCOPE_CHECK}${keyOf}
  EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.memories FOR VALUES IN (%L)', '${s}', v_part, '${s}', p_space);
  EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', '${s}', v_part);
  EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', '${s}', v_part);
  EXECUTE format('CREATE POLICY space_isolation ON %I.%I USING (space_id = ${SCOPE.replaceAll("'", "''")}) WITH CHECK (space_id = ${SCOPE.replaceAll("'", "''")})', '${s}', v_part);
END $fn$`,
        `CREATE FUNCTION ${ctx.schema}.create_space_vector_index(p_space text, p_dimension integer, p_m integer, p_ef_construction integer) RETURNS void ${definer} AS $fn$
DECLARE
  v_key bigint;
  v_part text;
BEGIN${SCOPE_CHECK}${keyOf}${index}
END $fn$`,
        `CREATE FUNCTION ${ctx.schema}.drop_space_storage(p_space text, p_key bigint) RETURNS void ${definer} AS $fn$
DECLARE
  v_part text := 'memories_' || p_key;
BEGIN${SCOPE_CHECK}
  -- Only the partition that holds exactly this space may be dropped.
  IF EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = '${s}' AND c.relname = v_part AND c.relispartition
      AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', p_space)
  ) THEN
    EXECUTE format('DROP TABLE %I.%I', '${s}', v_part);
  END IF;
END $fn$`,
        ...[
          'create_space_storage(text)',
          'create_space_vector_index(text, integer, integer, integer)',
          'drop_space_storage(text, bigint)',
        ].flatMap((fn) => [
          `REVOKE ALL ON FUNCTION ${ctx.schema}.${fn} FROM PUBLIC`,
          `GRANT EXECUTE ON FUNCTION ${ctx.schema}.${fn} TO ${ctx.appRole}`,
        ]),
      ];
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;
