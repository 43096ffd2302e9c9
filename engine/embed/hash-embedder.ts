/**
 * The built-in offline embedder: feature hashing of words, word bigrams and character
 * trigrams into a fixed number of dimensions, then L2 normalisation. It is deterministic, fast
 * and needs no download. It captures shared words and spellings, not meaning: "car" and
 * "automobile" are unrelated to it. Use a model embedder (openai-compatible or onnx) for
 * semantic recall.
 */
import { EngramError } from '../errors.ts';
import { tokenize } from '../text-tokens.ts';
import { normalise, type Embedder } from './embedder.ts';

const WEIGHT_WORD = 1;
const WEIGHT_BIGRAM = 0.5;
const WEIGHT_TRIGRAM = 0.25;

/** 32-bit FNV-1a over UTF-16 code units, with a seed so the sign hash is independent. */
function fnv1a(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export class HashEmbedder implements Embedder {
  readonly name = 'hash';

  constructor(readonly dimension = 384) {
    if (!Number.isInteger(dimension) || dimension < 8 || dimension > 65_536) {
      // The caller's input (a space created with this dimension), so a 400, not an internal error.
      throw new EngramError(
        'ENG_OPTIONS_INVALID',
        `hash embedder dimension must be an integer from 8 to 65536, got ${dimension}`,
      );
    }
  }

  embed(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((text) => this.embedOne(text)));
  }

  embedOne(text: string): Float32Array {
    const vector = new Float32Array(this.dimension);
    const words = tokenize(text);
    const add = (feature: string, weight: number): void => {
      const slot = fnv1a(feature, 0) % this.dimension;
      const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
      vector[slot]! += sign * weight;
    };
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      add(`w:${word}`, WEIGHT_WORD);
      if (i > 0) add(`b:${words[i - 1]!} ${word}`, WEIGHT_BIGRAM);
      const padded = `^${word}$`;
      for (let j = 0; j + 3 <= padded.length; j++)
        add(`c:${padded.slice(j, j + 3)}`, WEIGHT_TRIGRAM);
    }
    // Text without letters or digits (e.g. "!!!") still gets a direction of its own.
    if (words.length === 0) add(`raw:${text.trim()}`, WEIGHT_WORD);
    return normalise(vector);
  }
}
