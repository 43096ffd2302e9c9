/**
 * A tiny sentence-embedding model written from scratch for tests: a WordPiece tokenizer.json
 * over a small vocabulary and a model.onnx whose graph looks each token up in a known
 * embedding table (Gather), so a test can work out the expected pooled vector by hand. The
 * ONNX ModelProto is protobuf, encoded here with a few lines of varint writing (field numbers
 * from onnx/onnx.proto); there is no Python or onnx package on these machines.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const TINY_VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  ...'the a cat dog sat on mat ran fast slow red blue green sky sea river mountain memory engine space vector recall store apple banana cherry rain sun moon star'.split(
    ' ',
  ),
];
export const CLS_ID = 2;
export const SEP_ID = 3;
export const UNK_ID = 1;

export interface TinyModelOptions {
  dimension?: number;
  /** Also take token_type_ids and add a type embedding (row 0 for every token of one text). */
  tokenTypes?: boolean;
  /** Answer one vector per text: the element-wise max over all tokens (padding included). */
  pooledMax?: boolean;
  /** Name of the [batch, seq, dim] output (default last_hidden_state). */
  outputName?: string;
  /** Rows of the embedding table (default: the vocabulary); fewer makes later ids fail to run. */
  tableRows?: number;
  /** One more graph input, of a name the embedder cannot feed. */
  extraInput?: string;
}

// --- protobuf wire format: varint (0) and length-delimited (2) fields only ---

type Bytes = number[];

function varint(value: number): Bytes {
  const out: Bytes = [];
  let v = BigInt(value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const int = (field: number, value: number): Bytes => [...varint(field << 3), ...varint(value)];
const bytes = (field: number, data: ArrayLike<number>): Bytes => [
  ...varint((field << 3) | 2),
  ...varint(data.length),
  ...Array.from(data),
];
const str = (field: number, text: string): Bytes => bytes(field, new TextEncoder().encode(text));
const msg = (field: number, parts: Bytes[]): Bytes => bytes(field, parts.flat());

// --- ONNX messages (onnx.proto field numbers) ---

const FLOAT = 1;
const INT64 = 7;

/** ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2: {dim=1}}}}. */
function valueInfo(field: number, name: string, elemType: number, dims: Array<number | string>) {
  const dim = (d: number | string): Bytes =>
    msg(1, [typeof d === 'number' ? int(1, d) : str(2, d)]);
  return msg(field, [str(1, name), msg(2, [msg(1, [int(1, elemType), msg(2, dims.map(dim))])])]);
}

/** GraphProto.node=1: NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}. */
function node(op: string, inputs: string[], output: string, attributes: Bytes[] = []): Bytes {
  return msg(1, [
    ...inputs.map((input) => str(1, input)),
    str(2, output),
    str(3, `${op}_${output}`),
    str(4, op),
    ...attributes,
  ]);
}

/** GraphProto.initializer=5: TensorProto{dims=1, data_type=2, name=8, raw_data=9}. */
function initializer(name: string, rows: number, columns: number, values: Float32Array): Bytes {
  const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return msg(5, [int(1, rows), int(1, columns), int(2, FLOAT), str(8, name), bytes(9, raw)]);
}

/** AttributeProto{name=1, type=20 (INTS=7, INT=2), i=3, ints=8}. */
const intsAttribute = (name: string, values: number[]): Bytes =>
  msg(5, [str(1, name), int(20, 7), ...values.map((v) => int(8, v))]);
const intAttribute = (name: string, value: number): Bytes =>
  msg(5, [str(1, name), int(20, 2), int(3, value)]);

/** A deterministic table [rows, dimension] with every row distinct (row 0, [PAD], included). */
export function embeddingTable(rows: number, dimension: number, seed = 1): Float32Array {
  const table = new Float32Array(rows * dimension);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < table.length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    table[i] = (state / 2 ** 32) * 2 - 1;
  }
  return table;
}

export interface TinyModel {
  bytes: Uint8Array;
  dimension: number;
  wordTable: Float32Array;
  typeTable: Float32Array | undefined;
}

/** ModelProto{ir_version=1, opset_import=8: {domain=1, version=2}, graph=7}. */
export function encodeTinyModel(options: TinyModelOptions = {}): TinyModel {
  const dimension = options.dimension ?? 8;
  const output = options.outputName ?? 'last_hidden_state';
  const rows = options.tableRows ?? TINY_VOCAB.length;
  const wordTable = embeddingTable(rows, dimension, 7);
  const typeTable = options.tokenTypes ? embeddingTable(2, dimension, 99) : undefined;
  const tokens = options.tokenTypes || options.pooledMax ? 'token_vectors' : output;
  const graph: Bytes[] = [
    node('Gather', ['word_table', 'input_ids'], options.tokenTypes ? 'word_vectors' : tokens),
    str(2, 'tiny'),
    initializer('word_table', rows, dimension, wordTable),
    valueInfo(11, 'input_ids', INT64, ['batch', 'seq']),
    valueInfo(11, 'attention_mask', INT64, ['batch', 'seq']),
  ];
  if (options.extraInput) graph.push(valueInfo(11, options.extraInput, INT64, ['batch', 'seq']));
  if (typeTable) {
    graph.push(
      node('Gather', ['type_table', 'token_type_ids'], 'type_vectors'),
      node('Add', ['word_vectors', 'type_vectors'], options.pooledMax ? tokens : output),
      initializer('type_table', 2, dimension, typeTable),
      valueInfo(11, 'token_type_ids', INT64, ['batch', 'seq']),
    );
  }
  if (options.pooledMax) {
    graph.push(
      node('ReduceMax', [tokens], 'sentence_embedding', [
        intsAttribute('axes', [1]),
        intAttribute('keepdims', 0),
      ]),
      valueInfo(12, 'sentence_embedding', FLOAT, ['batch', dimension]),
    );
  } else {
    graph.push(valueInfo(12, output, FLOAT, ['batch', 'seq', dimension]));
  }
  const model = [int(1, 8), msg(8, [str(1, ''), int(2, 13)]), msg(7, graph)].flat();
  return { bytes: Uint8Array.from(model), dimension, wordTable, typeTable };
}

/** A BERT-style tokenizer.json: lower-casing normalizer, WordPiece, [CLS] $A [SEP]. */
export function tinyTokenizerJson(): object {
  const special = (id: number) => ({
    id,
    content: TINY_VOCAB[id],
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [0, 1, 2, 3].map(special),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [CLS_ID], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [SEP_ID], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(TINY_VOCAB.map((word, id) => [word, id])),
    },
  };
}

/** Writes model.onnx and tokenizer.json into `dir`; returns the tables for expected vectors. */
export async function writeTinyModelDir(
  dir: string,
  options: TinyModelOptions = {},
): Promise<TinyModel> {
  const model = encodeTinyModel(options);
  await writeFile(join(dir, 'model.onnx'), model.bytes);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  return model;
}

/** Token ids the tiny tokenizer gives a text of vocabulary words: [CLS] words [SEP]. */
export function tinyIds(text: string): number[] {
  const ids = text
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => {
      const id = TINY_VOCAB.indexOf(word);
      return id < 0 ? UNK_ID : id;
    });
  return [CLS_ID, ...ids, SEP_ID];
}

/** The vector the model should give: mean (or max) of table rows, L2-normalised. */
export function expectedVector(
  model: TinyModel,
  ids: readonly number[],
  reduce: 'mean' | 'max' = 'mean',
): Float32Array {
  const d = model.dimension;
  const row = (id: number, i: number): number =>
    model.wordTable[id * d + i]! + (model.typeTable ? model.typeTable[i]! : 0);
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    const values = ids.map((id) => row(id, i));
    out[i] =
      reduce === 'max' ? Math.max(...values) : values.reduce((a, b) => a + b, 0) / ids.length;
  }
  const norm = Math.hypot(...out);
  return out.map((v) => v / norm);
}
