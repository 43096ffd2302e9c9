/**
 * Text -> token-id tensors for the ONNX embedder: a Hugging Face tokenizer.json (and its
 * optional tokenizer_config.json) read through @huggingface/tokenizers, each text cut to
 * `maxTokens` tokens with the model's closing special tokens kept (as the Python tokenizers do
 * with truncation=True), and a batch padded to its longest text with an attention mask.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One batch, row-major [texts, length], as the int64 tensors ONNX text models take. */
export interface TokenBatch {
  texts: number;
  length: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

/**
 * The tokenizer reads at most this many characters per allowed token: a token covers at least
 * one character, so this never cuts text the token limit would keep, and bounds the work a
 * huge text costs.
 */
const CHARS_PER_TOKEN_MAX = 100;

/**
 * The part of @huggingface/tokenizers' Tokenizer used here, typed locally: the package's .d.ts
 * files import each other without extensions, which NodeNext resolution cannot follow.
 */
interface TextTokenizer {
  encode(
    text: string,
    options?: { add_special_tokens?: boolean; return_token_type_ids?: boolean },
  ): { ids: number[]; token_type_ids?: number[] };
}

type TokenizerClass = new (tokenizerJson: object, tokenizerConfig: object) => TextTokenizer;

interface TokenizerJson {
  padding?: { pad_id?: unknown } | null;
}

/** Why a file could not be used, for the caller to wrap in its own error. */
export class TokenizerLoadError extends Error {}

async function readJson(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TokenizerLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TokenizerLoadError(`${path} is not JSON: ${(error as Error).message}`);
  }
}

export class OnnxTokenizer {
  /** Special tokens the post-processor puts after the text ([SEP] for BERT); kept on truncation. */
  private readonly suffixLength: number;

  private constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly padId: number,
  ) {
    this.suffixLength = this.measureSuffix();
  }

  /** Loads `dir`/tokenizer.json (required) and `dir`/tokenizer_config.json (optional). */
  static async load(dir: string): Promise<OnnxTokenizer> {
    const json = await readJson(join(dir, 'tokenizer.json'), true);
    const config = await readJson(join(dir, 'tokenizer_config.json'), false);
    const { Tokenizer } = (await import('@huggingface/tokenizers')) as unknown as {
      Tokenizer: TokenizerClass;
    };
    let tokenizer: TextTokenizer;
    try {
      tokenizer = new Tokenizer(json as object, config as object);
    } catch (error) {
      throw new TokenizerLoadError(
        `${join(dir, 'tokenizer.json')} is not a tokenizer this build can use: ${(error as Error).message}`,
      );
    }
    const padId = (json as TokenizerJson).padding?.pad_id;
    return new OnnxTokenizer(tokenizer, typeof padId === 'number' ? padId : 0);
  }

  /** Token ids of one text, special tokens included, at most `maxTokens` of them. */
  encode(text: string, maxTokens: number): { ids: number[]; typeIds: number[] } {
    const encoded = this.tokenizer.encode(text.slice(0, maxTokens * CHARS_PER_TOKEN_MAX), {
      return_token_type_ids: true,
    });
    const typeIds = encoded.token_type_ids ?? new Array<number>(encoded.ids.length).fill(0);
    if (encoded.ids.length <= maxTokens) return { ids: encoded.ids, typeIds };
    const keep = (values: number[]): number[] => {
      const head = Math.max(0, maxTokens - this.suffixLength);
      return [...values.slice(0, head), ...values.slice(values.length - (maxTokens - head))];
    };
    return { ids: keep(encoded.ids), typeIds: keep(typeIds) };
  }

  /** Encodes texts and pads them to the longest; padding has attention mask 0. */
  encodeBatch(texts: readonly string[], maxTokens: number): TokenBatch {
    const rows = texts.map((text) => this.encode(text, maxTokens));
    const length = Math.max(1, ...rows.map((row) => row.ids.length));
    const size = texts.length * length;
    const batch: TokenBatch = {
      texts: texts.length,
      length,
      inputIds: new BigInt64Array(size).fill(BigInt(this.padId)),
      attentionMask: new BigInt64Array(size),
      tokenTypeIds: new BigInt64Array(size),
    };
    rows.forEach((row, index) => {
      const offset = index * length;
      row.ids.forEach((id, position) => {
        batch.inputIds[offset + position] = BigInt(id);
        batch.attentionMask[offset + position] = 1n;
        batch.tokenTypeIds[offset + position] = BigInt(row.typeIds[position] ?? 0);
      });
    });
    return batch;
  }

  /**
   * How many special tokens follow the text: encode a probe word with and without special
   * tokens and find where the plain ids sit inside the full ones.
   */
  private measureSuffix(): number {
    const probe = 'hello';
    const full = this.tokenizer.encode(probe).ids;
    const plain = this.tokenizer.encode(probe, { add_special_tokens: false }).ids;
    if (plain.length === 0 || plain.length > full.length) return 0;
    for (let start = 0; start + plain.length <= full.length; start++) {
      if (plain.every((id, i) => full[start + i] === id)) {
        return full.length - start - plain.length;
      }
    }
    return 0;
  }
}
