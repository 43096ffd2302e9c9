/**
 * One interface for every way of turning text into vectors. A space records its embedder's
 * name and dimension in space.json; a client-supplied vector of the right dimension is always
 * accepted instead. A failed embedding fails the write: no fallback vector is ever stored.
 */
export interface Embedder {
  /** Stable name recorded in space.json, e.g. "hash" or "openai:text-embedding-3-small". */
  readonly name: string;
  readonly dimension: number;
  /** One vector per text, in order, each L2-normalised. */
  embed(texts: readonly string[], options?: { signal?: AbortSignal }): Promise<Float32Array[]>;
}

export function normalise(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm === 0) return vector;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
  return vector;
}
