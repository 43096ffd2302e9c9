/**
 * How vectors are written, read and compared in SQL, for the two storages: pgvector's `vector`
 * (HNSW-indexed per space) and plain float4 arrays (searched exactly; for servers without
 * pgvector, such as Debian's PostgreSQL in CI). Vectors travel as text: each float32 is printed
 * as the shortest decimal of its exact value and read back bit for bit (-0 included).
 */
import type { VectorStorage } from './schema-migrations.ts';

export class VectorSql {
  constructor(
    readonly storage: VectorStorage,
    /** Quoted schema of the vector type and operators (pgvector) or of cosine_distance (arrays). */
    private readonly typeSchema: string,
    /** pgvector 0.8 can keep scanning the index until enough rows pass the filters. */
    readonly iterativeScan: boolean,
  ) {}

  format(vector: Float32Array): string {
    const values = Array.from(vector, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',');
    return this.storage === 'pgvector' ? `[${values}]` : `{${values}}`;
  }

  parse(text: string): Float32Array {
    // "[1,2.5,-0]" or "{1,2.5,-0}": the same shape but for the brackets.
    const body = text.slice(1, -1);
    return Float32Array.from(body === '' ? [] : body.split(',').map(Number));
  }

  /** A query-vector parameter, typed to the space's dimension (so the HNSW expression index matches). */
  param(placeholder: string, dimension: number): string {
    return this.storage === 'pgvector'
      ? `${placeholder}::${this.typeSchema}.vector(${dimension})`
      : `${placeholder}::real[]`;
  }

  /** Cosine distance between the embedding column and a query parameter. */
  distance(column: string, placeholder: string, dimension: number): string {
    return this.storage === 'pgvector'
      ? `((${column})::${this.typeSchema}.vector(${dimension}) OPERATOR(${this.typeSchema}.<=>) ${this.param(placeholder, dimension)})`
      : `${this.typeSchema}.cosine_distance(${column}, ${this.param(placeholder, dimension)})`;
  }

  /** An embedding parameter of any dimension, for writes. */
  column(placeholder: string): string {
    return this.storage === 'pgvector'
      ? `${placeholder}::${this.typeSchema}.vector`
      : `${placeholder}::real[]`;
  }

  /**
   * SET LOCAL statements before a similarity search: `exact` turns index scans off (small
   * spaces, and the fallback when the index returned too few rows), else ef_search is raised to
   * the number of rows wanted and pgvector keeps scanning until the filters let enough through.
   */
  searchSettings(want: number, efSearch: number, exact: boolean): string[] {
    if (exact) return ['SET LOCAL enable_indexscan = off', 'SET LOCAL enable_bitmapscan = off'];
    if (this.storage !== 'pgvector') return [];
    const ef = Math.min(1000, Math.max(efSearch, want));
    return [
      `SET LOCAL hnsw.ef_search = ${ef}`,
      ...(this.iterativeScan ? [`SET LOCAL hnsw.iterative_scan = strict_order`] : []),
    ];
  }
}
