/**
 * An embedder for any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM, LM
 * Studio, ...). Batches texts, times out each request, retries 429/5xx/network failures with
 * exponential backoff, and fails with a clear error when the server stays unreachable. The key
 * is passed in (the caller reads it from the environment; the engine never does).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EngramError } from '../errors.ts';
import { normalise, type Embedder } from './embedder.ts';

export interface OpenAiEmbedderOptions {
  /** Base URL up to and including the API version, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1". */
  baseUrl: string;
  model: string;
  dimension: number;
  apiKey?: string;
  batchSize?: number;
  timeoutMs?: number;
  retries?: number;
  retryBaseMs?: number;
}

interface EmbeddingsResponse {
  data?: Array<{ embedding?: unknown; index?: unknown }>;
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export class OpenAiEmbedder implements Embedder {
  readonly name: string;
  readonly dimension: number;
  private readonly url: string;
  private readonly options: Required<Omit<OpenAiEmbedderOptions, 'apiKey'>> & {
    apiKey: string | undefined;
  };

  constructor(options: OpenAiEmbedderOptions) {
    let url: URL;
    try {
      url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/embeddings`);
    } catch {
      throw new EngramError(
        'ENG_OPTIONS_INVALID',
        `Embedder base URL ${JSON.stringify(options.baseUrl)} is not a URL`,
      );
    }
    this.url = url.toString();
    this.options = {
      batchSize: 64,
      timeoutMs: 30_000,
      retries: 3,
      retryBaseMs: 200,
      ...options,
      apiKey: options.apiKey,
    };
    this.name = `openai:${options.model}`;
    this.dimension = options.dimension;
  }

  async embed(
    texts: readonly string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.options.batchSize) {
      out.push(
        ...(await this.embedBatch(
          texts.slice(start, start + this.options.batchSize),
          options.signal,
        )),
      );
    }
    return out;
  }

  private async embedBatch(
    texts: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Float32Array[]> {
    let lastProblem = '';
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0)
        await sleep(
          this.options.retryBaseMs * 2 ** (attempt - 1),
          undefined,
          signal ? { signal } : {},
        );
      let response: Response;
      try {
        const timeout = AbortSignal.timeout(this.options.timeoutMs);
        response = await fetch(this.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          body: JSON.stringify({ model: this.options.model, input: texts }),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        if (signal?.aborted)
          throw new EngramError('ENG_ABORTED', 'The embedding request was aborted');
        lastProblem =
          (error as Error).name === 'TimeoutError'
            ? `no answer within ${this.options.timeoutMs} ms`
            : `${(error as Error).message}`;
        continue;
      }
      if (response.ok)
        return this.parse(await response.json().catch(() => undefined), texts.length);
      lastProblem = `HTTP ${response.status}`;
      await response.body?.cancel();
      if (!RETRYABLE_STATUS.has(response.status)) break;
    }
    throw new EngramError(
      'ENG_EMBEDDER_UNAVAILABLE',
      `Embedder ${this.name} at ${this.url} failed: ${lastProblem}`,
      {
        details: { embedder: this.name },
      },
    );
  }

  private parse(body: unknown, expected: number): Float32Array[] {
    const data = (body as EmbeddingsResponse | undefined)?.data;
    if (!Array.isArray(data) || data.length !== expected) {
      throw new EngramError(
        'ENG_EMBEDDER_UNAVAILABLE',
        `Embedder ${this.name} answered ${Array.isArray(data) ? data.length : 'no'} embeddings for ${expected} texts`,
      );
    }
    const ordered = [...data].sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0));
    return ordered.map(({ embedding }) => {
      if (
        !Array.isArray(embedding) ||
        embedding.some((v) => typeof v !== 'number' || !Number.isFinite(v))
      ) {
        throw new EngramError(
          'ENG_EMBEDDER_UNAVAILABLE',
          `Embedder ${this.name} answered an embedding that is not a list of finite numbers`,
        );
      }
      if (embedding.length !== this.dimension) {
        throw new EngramError(
          'ENG_VECTOR_DIM_MISMATCH',
          `Embedder ${this.name} answered ${embedding.length} dimensions, the space expects ${this.dimension}`,
          { details: { got: embedding.length, expected: this.dimension } },
        );
      }
      return normalise(Float32Array.from(embedding as number[]));
    });
  }
}
