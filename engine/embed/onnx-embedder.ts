/**
 * A sentence-embedding model run locally with onnxruntime-node: a directory holding model.onnx
 * and tokenizer.json (an exported all-MiniLM-L6-v2, say). Texts are tokenized, cut to
 * maxTokens, batched with padding, run through the model, mean-pooled over the attention mask
 * (or taken as they are when the model already answers one vector per text) and
 * L2-normalised. Loading is async (so is onnxruntime-node's API), so it happens once, in
 * OnnxEmbedder.load, before the engine starts: a missing or broken model fails the start with
 * ENG_EMBEDDER_UNAVAILABLE naming the path, and the dimension is learnt there by running a
 * probe text. A failed inference fails the write; no fallback vector.
 */
import { basename, join, resolve } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { EngramError } from '../errors.ts';
import { normalise, type Embedder } from './embedder.ts';
import { OnnxTokenizer, TokenizerLoadError, type TokenBatch } from './onnx-tokenizer.ts';

export interface OnnxEmbedderOptions {
  /** Directory with model.onnx and tokenizer.json (tokenizer_config.json is read if present). */
  modelDir: string;
  /** Tokens per text, special tokens included; longer texts are cut. */
  maxTokens?: number;
  /** Texts per inference run. */
  batchSize?: number;
}

export const ONNX_DEFAULTS = Object.freeze({ maxTokens: 256, batchSize: 32 });
export const ONNX_LIMITS = Object.freeze({
  maxTokens: [1, 8192] as const,
  batchSize: [1, 1024] as const,
});

/** Outputs holding one vector per token, preferred over the first output when present. */
const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const REQUIRED_INPUTS = ['input_ids', 'attention_mask'];
const OPTIONAL_INPUTS = ['token_type_ids'];

function checkRange(name: keyof typeof ONNX_LIMITS, value: number): number {
  const [min, max] = ONNX_LIMITS[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      `Option "${name}" of the onnx embedder must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function unavailable(modelDir: string, reason: string, cause?: unknown): EngramError {
  return new EngramError(
    'ENG_EMBEDDER_UNAVAILABLE',
    `ONNX embedder at "${modelDir}" is unavailable: ${reason}`,
    { details: { embedder: 'onnx', path: modelDir }, ...(cause === undefined ? {} : { cause }) },
  );
}

/** The model's inputs must be ones this embedder can feed; the output it reads is chosen here. */
function checkSignature(modelDir: string, session: InferenceSession): string {
  const inputs = session.inputNames;
  const missing = REQUIRED_INPUTS.filter((name) => !inputs.includes(name));
  const unknown = inputs.filter(
    (name) => !REQUIRED_INPUTS.includes(name) && !OPTIONAL_INPUTS.includes(name),
  );
  if (missing.length > 0 || unknown.length > 0) {
    throw unavailable(
      modelDir,
      `model.onnx takes inputs [${inputs.join(', ')}]; this embedder feeds input_ids, attention_mask and optionally token_type_ids`,
    );
  }
  const output = session.outputNames.find((name) => TOKEN_OUTPUTS.includes(name));
  const chosen = output ?? session.outputNames[0];
  if (chosen === undefined) throw unavailable(modelDir, 'model.onnx has no outputs');
  return chosen;
}

/**
 * One L2-normalised vector per text from the model output: [texts, tokens, dim] is averaged
 * over the tokens whose attention mask is 1; [texts, dim] is already one vector per text.
 */
function poolOutput(output: Tensor, batch: TokenBatch): Float32Array[] {
  if (output.type !== 'float32') {
    throw new EngramError(
      'ENG_EMBEDDER_UNAVAILABLE',
      `ONNX model answered ${output.type} values; this embedder reads float32`,
    );
  }
  const data = output.data as Float32Array;
  const dims = output.dims;
  if (dims.length === 2 && dims[0] === batch.texts) {
    const dim = dims[1]!;
    return Array.from({ length: batch.texts }, (_, t) =>
      checkFinite(normalise(data.slice(t * dim, (t + 1) * dim))),
    );
  }
  if (dims.length !== 3 || dims[0] !== batch.texts || dims[1] !== batch.length) {
    throw new EngramError(
      'ENG_EMBEDDER_UNAVAILABLE',
      `ONNX model answered shape [${dims.join(', ')}]; expected [${batch.texts}, ${batch.length}, dim] or [${batch.texts}, dim]`,
    );
  }
  const dim = dims[2]!;
  return Array.from({ length: batch.texts }, (_, t) => {
    const sum = new Float32Array(dim);
    let count = 0;
    for (let position = 0; position < batch.length; position++) {
      if (batch.attentionMask[t * batch.length + position] === 0n) continue;
      count++;
      const offset = (t * batch.length + position) * dim;
      for (let i = 0; i < dim; i++) sum[i]! += data[offset + i]!;
    }
    if (count === 0) {
      throw new EngramError('ENG_CONTENT_INVALID', 'The text yields no tokens to embed');
    }
    for (let i = 0; i < dim; i++) sum[i]! /= count;
    return checkFinite(normalise(sum));
  });
}

function checkFinite(vector: Float32Array): Float32Array {
  if (!vector.every(Number.isFinite)) {
    throw new EngramError('ENG_EMBEDDER_UNAVAILABLE', 'ONNX model answered non-finite values');
  }
  return vector;
}

/** A loaded model: the session, its tokenizer and how to feed and read it. */
interface LoadedModel {
  modelDir: string;
  session: InferenceSession;
  tokenizer: OnnxTokenizer;
  TensorClass: typeof Tensor;
  maxTokens: number;
  output: string;
  feedsTokenTypes: boolean;
}

/** One inference run over a batch of texts; a failed run is ENG_EMBEDDER_UNAVAILABLE. */
async function runModel(model: LoadedModel, texts: readonly string[]): Promise<Float32Array[]> {
  const batch = model.tokenizer.encodeBatch(texts, model.maxTokens);
  const shape = [batch.texts, batch.length];
  const tensor = (data: BigInt64Array): Tensor => new model.TensorClass('int64', data, shape);
  const feeds: Record<string, Tensor> = {
    input_ids: tensor(batch.inputIds),
    attention_mask: tensor(batch.attentionMask),
    ...(model.feedsTokenTypes ? { token_type_ids: tensor(batch.tokenTypeIds) } : {}),
  };
  let results: InferenceSession.OnnxValueMapType;
  try {
    results = await model.session.run(feeds, [model.output]);
  } catch (error) {
    throw unavailable(
      model.modelDir,
      `the model failed to run: ${(error as Error).message}`,
      error,
    );
  }
  return poolOutput(results[model.output] as Tensor, batch);
}

async function loadModel(modelDir: string, maxTokens: number): Promise<LoadedModel> {
  let tokenizer: OnnxTokenizer;
  try {
    tokenizer = await OnnxTokenizer.load(modelDir);
  } catch (error) {
    if (error instanceof TokenizerLoadError) throw unavailable(modelDir, error.message, error);
    throw error;
  }
  const ort = await import('onnxruntime-node');
  let session: InferenceSession;
  try {
    // Run failures come back as errors with onnxruntime's message; its own stderr log stays quiet.
    session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), {
      logSeverityLevel: 4,
    });
  } catch (error) {
    throw unavailable(modelDir, `cannot load model.onnx: ${(error as Error).message}`, error);
  }
  return {
    modelDir,
    session,
    tokenizer,
    TensorClass: ort.Tensor,
    maxTokens,
    output: checkSignature(modelDir, session),
    feedsTokenTypes: session.inputNames.includes('token_type_ids'),
  };
}

export class OnnxEmbedder implements Embedder {
  readonly name: string;

  private constructor(
    private readonly model: LoadedModel,
    private readonly batchSize: number,
    readonly dimension: number,
  ) {
    this.name = `onnx:${basename(model.modelDir)}`;
  }

  /** Reads the tokenizer, builds the session and learns the dimension from a probe text. */
  static async load(options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const modelDir = resolve(options.modelDir);
    const maxTokens = checkRange('maxTokens', options.maxTokens ?? ONNX_DEFAULTS.maxTokens);
    const batchSize = checkRange('batchSize', options.batchSize ?? ONNX_DEFAULTS.batchSize);
    const model = await loadModel(modelDir, maxTokens);
    const [probe] = await runModel(model, ['hello']);
    if (!probe || probe.length === 0) throw unavailable(modelDir, 'a probe text gave no vector');
    return new OnnxEmbedder(model, batchSize, probe.length);
  }

  async embed(
    texts: readonly string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      if (options.signal?.aborted) {
        throw new EngramError('ENG_ABORTED', 'The embedding request was aborted');
      }
      const vectors = await runModel(this.model, texts.slice(start, start + this.batchSize));
      // A model with a dynamic output shape could change its mind; the space must not.
      const wrong = vectors.find((vector) => vector.length !== this.dimension);
      if (wrong) {
        throw new EngramError(
          'ENG_VECTOR_DIM_MISMATCH',
          `Embedder ${this.name} answered ${wrong.length} dimensions, the space expects ${this.dimension}`,
          { details: { got: wrong.length, expected: this.dimension } },
        );
      }
      out.push(...vectors);
    }
    return out;
  }

  /** Frees the native session; the embedder cannot be used afterwards. */
  async close(): Promise<void> {
    await this.model.session.release();
  }
}
