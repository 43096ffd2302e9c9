/**
 * Seeded benchmark data: vectors shaped like sentence embeddings and short texts.
 *
 * Sentence-embedding models produce unit vectors that are (1) clustered by topic and (2)
 * anisotropic: they share a common direction, so two unrelated sentences still have a cosine
 * of roughly 0.1-0.3 instead of 0. The generator reproduces both:
 *
 *   v = normalise(common * g + c_k + spread * z),  z ~ N(0, I / d)
 *
 * with g a shared unit direction, c_k the unit centroid of topic k (topics drawn with a mildly
 * skewed, Zipf-like popularity) and z isotropic noise of norm ~1. With the defaults two
 * vectors of the same topic have a cosine of ~0.65 and two of different topics ~0.15. The same
 * seed gives the same sequence on every machine (mulberry32 + Marsaglia's polar method).
 */

export const EMBEDDING_DIMENSION = 384;

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Marsaglia's polar method, both outputs used). */
function gaussianSource(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const out = spare;
      spare = undefined;
      return out;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * random() - 1;
      v = 2 * random() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    spare = v * f;
    return u * f;
  };
}

function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * scale;
  return v;
}

function unitGaussian(gaussian: () => number, dimension: number): Float32Array {
  const v = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) v[i] = gaussian();
  return normalise(v);
}

const WORDS = (
  'the a of to and in that it for on with as was at by this from they we you have be not ' +
  'are or had but one all were when there can more what out about up if so said which their ' +
  'time them some into could would other than then now only its also two after first new ' +
  'because any these most day how us well way even want our over back just good think know ' +
  'meeting project deadline budget client report release server memory user agent task ' +
  'review design plan note idea issue bug fix test data model feature team call email'
).split(' ');

const TOPICS = (
  'billing onboarding travel recipes gardening hiring security backups pricing roadmap ' +
  'support marketing fitness finance legal music family weather health education'
).split(' ');

export interface Item {
  /** Topic (cluster) index. */
  topic: number;
  content: string;
  /** Unit-norm embedding. */
  vector: Float32Array;
}

export interface GeneratorOptions {
  seed: number;
  dimension?: number;
  /** Number of topic clusters. */
  clusters?: number;
  /** Weight of the direction every vector shares (anisotropy). */
  common?: number;
  /** Norm of the per-vector noise relative to the unit centroid. */
  spread?: number;
}

export class EmbeddingGenerator {
  readonly dimension: number;
  private readonly random: () => number;
  private readonly gaussian: () => number;
  private readonly centroids: Float32Array[];
  private readonly commonDirection: Float32Array;
  private readonly cumulative: number[];
  private readonly common: number;
  private readonly spread: number;
  private produced = 0;

  constructor(options: GeneratorOptions) {
    this.dimension = options.dimension ?? EMBEDDING_DIMENSION;
    this.common = options.common ?? 0.55;
    this.spread = options.spread ?? 0.85;
    const clusters = options.clusters ?? 64;
    this.random = seededRandom(options.seed);
    this.gaussian = gaussianSource(this.random);
    this.commonDirection = unitGaussian(this.gaussian, this.dimension);
    this.centroids = Array.from({ length: clusters }, () =>
      unitGaussian(this.gaussian, this.dimension),
    );
    // Zipf-like topic popularity (weight 1 / (k + 2)): a few big topics, a long tail.
    let total = 0;
    this.cumulative = this.centroids.map((_, k) => (total += 1 / (k + 2)));
    this.cumulative = this.cumulative.map((c) => c / total);
  }

  private pickTopic(): number {
    const r = this.random();
    const k = this.cumulative.findIndex((c) => r < c);
    return k === -1 ? this.centroids.length - 1 : k;
  }

  /** The next item of the sequence. */
  next(): Item {
    const topic = this.pickTopic();
    const centroid = this.centroids[topic]!;
    const v = new Float32Array(this.dimension);
    const noise = this.spread / Math.sqrt(this.dimension);
    for (let i = 0; i < this.dimension; i++) {
      v[i] = this.common * this.commonDirection[i]! + centroid[i]! + noise * this.gaussian();
    }
    normalise(v);
    const words = 8 + Math.floor(this.random() * 17); // 8-24 words, ~40-160 characters
    const parts: string[] = [`#${this.produced}`, TOPICS[topic % TOPICS.length]!];
    for (let i = 0; i < words; i++) parts.push(WORDS[Math.floor(this.random() * WORDS.length)]!);
    this.produced += 1;
    return { topic, content: parts.join(' '), vector: v };
  }

  /** The next `count` items. */
  take(count: number): Item[] {
    const out: Item[] = [];
    for (let i = 0; i < count; i++) out.push(this.next());
    return out;
  }
}

/** Cosine of two unit vectors (their dot product). */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---- text corpus with held-out queries and exact ground truth ---------------------------

/** A stored memory of a corpus: its id is `m<index>`. */
export interface CorpusMemory extends Item {
  id: string;
}

/**
 * A held-out query: a vector drawn after the stored ones (same clusters, never stored) and a
 * text made of a planted term plus one common word. The planted term occurs in exactly the
 * memories listed in `planted` and nowhere else, so those are the query's lexical ground truth.
 */
export interface CorpusQuery {
  text: string;
  vector: Float32Array;
  plantedTerm: string;
  planted: string[];
}

export interface Corpus {
  memories: CorpusMemory[];
  queries: CorpusQuery[];
}

export interface CorpusOptions {
  seed: number;
  memories: number;
  queries: number;
  dimension?: number;
  /** Memories that carry each query's planted term (default 10). */
  plantedPerQuery?: number;
}

/** The term planted for query `q`: a token no generated text contains otherwise. */
export function plantedTerm(q: number): string {
  return `kw${q}zz`;
}

/**
 * Seeded memories (texts + clustered vectors) and held-out queries with planted terms. Query q's
 * term is appended to `plantedPerQuery` distinct memories chosen by a separate seeded stream;
 * a memory may carry the terms of several queries.
 */
export function generateCorpus(options: CorpusOptions): Corpus {
  const per = options.plantedPerQuery ?? 10;
  if (per > options.memories) throw new Error('plantedPerQuery exceeds the number of memories');
  const generator = new EmbeddingGenerator({
    seed: options.seed,
    ...(options.dimension === undefined ? {} : { dimension: options.dimension }),
  });
  const memories: CorpusMemory[] = generator
    .take(options.memories)
    .map((item, i) => ({ ...item, id: `m${i}` }));
  const held = generator.take(options.queries);
  const pick = seededRandom(options.seed ^ 0x5bd1e995);
  const queries = held.map((item, q): CorpusQuery => {
    const term = plantedTerm(q);
    const chosen = new Set<number>();
    while (chosen.size < per) chosen.add(Math.floor(pick() * options.memories));
    for (const i of chosen) {
      const memory = memories[i]!;
      memory.content = `${memory.content} ${term}`;
    }
    // One common word besides the term: with a topic word too, a memory holding both (and the
    // word twice) can outscore a planted one by BM25 in a small corpus.
    const common = WORDS[Math.floor(pick() * WORDS.length)]!;
    return {
      text: `${term} ${common}`,
      vector: item.vector,
      plantedTerm: term,
      planted: [...chosen].sort((a, b) => a - b).map((i) => `m${i}`),
    };
  });
  return { memories, queries };
}

/**
 * Exact nearest neighbours by a full scan: the indexes of the `k` vectors with the highest
 * cosine to `query` (all unit vectors), best first, ties broken by the lower index.
 */
export function exactTopK(
  vectors: readonly Float32Array[],
  query: Float32Array,
  k: number,
): Array<{ index: number; score: number }> {
  const top: Array<{ index: number; score: number }> = [];
  for (let i = 0; i < vectors.length; i++) {
    const score = dot(vectors[i]!, query);
    if (top.length === k && score <= top[k - 1]!.score) continue;
    let at = top.length;
    while (at > 0 && top[at - 1]!.score < score) at--;
    top.splice(at, 0, { index: i, score });
    if (top.length > k) top.pop();
  }
  return top;
}

/** Share of `truth` found in `found` (recall@k with k = truth.length). */
export function recallAt(found: readonly string[], truth: readonly string[]): number {
  if (truth.length === 0) return 1;
  const set = new Set(found);
  return truth.filter((id) => set.has(id)).length / truth.length;
}
