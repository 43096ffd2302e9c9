/**
 * Which embedders this engine can build, by the name recorded in space.json. "hash" is built
 * in; others (an OpenAI-compatible endpoint, a local ONNX model) are added by whoever starts
 * the engine, with their configuration (URLs, keys) resolved at the edge.
 */
import { EngramError } from '../errors.ts';
import type { Embedder } from './embedder.ts';
import { HashEmbedder } from './hash-embedder.ts';

/** Builds an embedder; `dimension` is the space's, or undefined for the embedder's default. */
export type EmbedderFactory = (dimension: number | undefined) => Embedder;

export const DEFAULT_HASH_DIMENSION = 384;

export class EmbedderCatalog {
  private readonly factories: Map<string, EmbedderFactory>;

  constructor(extra: Record<string, EmbedderFactory> = {}) {
    this.factories = new Map(
      Object.entries({ hash: (d) => new HashEmbedder(d ?? DEFAULT_HASH_DIMENSION), ...extra }),
    );
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  /** The embedder for a space; fails with ENG_EMBEDDER_UNAVAILABLE when this engine lacks it. */
  create(name: string, dimension: number | undefined): Embedder {
    const factory = this.factories.get(name);
    if (!factory) {
      throw new EngramError(
        'ENG_EMBEDDER_UNAVAILABLE',
        `Embedder "${name}" is not configured on this server (available: ${this.names().join(', ')})`,
        { details: { embedder: name } },
      );
    }
    const embedder = factory(dimension);
    if (dimension !== undefined && embedder.dimension !== dimension) {
      throw new EngramError(
        'ENG_VECTOR_DIM_MISMATCH',
        `Embedder "${name}" produces ${embedder.dimension} dimensions, the space has ${dimension}`,
        { details: { got: embedder.dimension, expected: dimension } },
      );
    }
    return embedder;
  }
}
