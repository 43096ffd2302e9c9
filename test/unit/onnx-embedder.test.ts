/**
 * The onnx embedder against a tiny model generated here (test/helpers/tiny-onnx.ts): each token
 * is looked up in a known table, so the expected mean-pooled, normalised vector is computed by
 * hand. Covers the attention mask, truncation, batching, token_type_ids, pooled outputs, the
 * load errors and the dimension check.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OnnxEmbedder } from '../../engine/index.ts';
import { EmbedderCatalog } from '../../engine/embed/embedder-catalog.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import {
  CLS_ID,
  SEP_ID,
  TINY_VOCAB,
  expectedVector,
  tinyIds,
  tinyTokenizerJson,
  writeTinyModelDir,
  type TinyModelOptions,
} from '../helpers/tiny-onnx.ts';

const root = await tempDir('engram-onnx-');
let dirs = 0;
const opened: OnnxEmbedder[] = [];
after(() => Promise.all(opened.map((e) => e.close())));

async function modelDir(options: TinyModelOptions = {}) {
  const dir = join(root, `model-${dirs++}`);
  await mkdir(dir);
  return { dir, model: await writeTinyModelDir(dir, options) };
}

async function load(dir: string, options: { maxTokens?: number; batchSize?: number } = {}) {
  const embedder = await OnnxEmbedder.load({ modelDir: dir, ...options });
  opened.push(embedder);
  return embedder;
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-5): void {
  assert.equal(actual.length, expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
  assert.ok(worst < tolerance, `vectors differ by ${worst}`);
}

function differs(a: Float32Array, b: Float32Array): boolean {
  return a.some((v, i) => Math.abs(v - b[i]!) > 1e-3);
}

const { dir: plainDir, model: plain } = await modelDir();

test('mean-pools the token vectors of [CLS] text [SEP] and L2-normalises, as computed by hand', async () => {
  const embedder = await load(plainDir);
  assert.equal(embedder.dimension, 8);
  assert.match(embedder.name, /^onnx:model-/);
  const text = 'The Cat sat on the MAT';
  const [vector] = await embedder.embed([text]);
  // Upper case is lowered by the tokenizer's normalizer: every word is in the vocabulary.
  assert.ok(!tinyIds(text).includes(1));
  assertClose(vector!, expectedVector(plain, tinyIds(text)));
  assert.ok(Math.abs(Math.hypot(...vector!) - 1) < 1e-5, 'unit length');
  // An unknown word is [UNK], a vector like any other.
  const [unknown] = await embedder.embed(['zebra']);
  assertClose(unknown!, expectedVector(plain, [CLS_ID, 1, SEP_ID]));
});

test('padding in a batch does not change a text: the attention mask is respected', async () => {
  const embedder = await load(plainDir);
  // [PAD] has a vector of its own: counting padded positions would move the mean.
  assert.ok(plain.wordTable.slice(0, 8).some((v) => Math.abs(v) > 0.1));
  const short = 'cat';
  const long = 'the red dog ran fast on the green mat under a blue sky';
  const [alone] = await embedder.embed([short]);
  const [padded, full] = await embedder.embed([short, long]);
  assertClose(padded!, alone!, 1e-6);
  assertClose(padded!, expectedVector(plain, tinyIds(short)));
  assertClose(full!, expectedVector(plain, tinyIds(long)));
});

test('a text longer than max_tokens is cut to max_tokens, keeping the closing [SEP]', async () => {
  const embedder = await load(plainDir, { maxTokens: 5 });
  const text = 'the cat sat on the mat';
  const [cut] = await embedder.embed([text]);
  const ids = tinyIds(text);
  assertClose(cut!, expectedVector(plain, [...ids.slice(0, 4), SEP_ID]));
  assert.ok(differs(cut!, expectedVector(plain, ids)), 'the cut changed the vector');
  // The words past the limit no longer matter.
  const [sameStart] = await embedder.embed(['the cat sat river mountain sky']);
  assertClose(sameStart!, cut!, 1e-6);
  // A text within the limit is untouched.
  const [short] = await embedder.embed(['red sky']);
  assertClose(short!, expectedVector(plain, tinyIds('red sky')));
});

test('different texts give different vectors; the same text always the same one', async () => {
  const embedder = await load(plainDir);
  const [a1, b, a2] = await embedder.embed(['apple banana', 'river mountain', 'apple banana']);
  assert.ok(differs(a1!, b!));
  assert.deepEqual(a1, a2);
  const [a3] = await embedder.embed(['apple banana']);
  assert.deepEqual(a1, a3);
});

test('more texts than batch_size run in several batches, in order', async () => {
  const embedder = await load(plainDir, { batchSize: 2 });
  const texts = ['sun', 'moon and star', 'rain', 'the sea', 'a red apple on the mat'];
  const vectors = await embedder.embed(texts);
  assert.equal(vectors.length, texts.length);
  texts.forEach((text, i) => assertClose(vectors[i]!, expectedVector(plain, tinyIds(text))));
  assert.deepEqual(await embedder.embed([]), []);
});

test('token_type_ids are fed when the model declares them', async () => {
  const { dir, model } = await modelDir({ tokenTypes: true });
  const embedder = await load(dir);
  const [vector] = await embedder.embed(['blue sky']);
  assertClose(vector!, expectedVector(model, tinyIds('blue sky')));
  assert.ok(differs(vector!, expectedVector(plain, tinyIds('blue sky'))), 'type vectors added');
});

test('a model answering one vector per text ([batch, dim]) is used as it is', async () => {
  const { dir, model } = await modelDir({ pooledMax: true, dimension: 12 });
  const embedder = await load(dir);
  assert.equal(embedder.dimension, 12);
  const [vector] = await embedder.embed(['memory engine']);
  assertClose(vector!, expectedVector(model, tinyIds('memory engine'), 'max'));
});

test('an output named token_embeddings is read', async () => {
  const { dir, model } = await modelDir({ outputName: 'token_embeddings' });
  const [vector] = await (await load(dir)).embed(['vector recall']);
  assertClose(vector!, expectedVector(model, tinyIds('vector recall')));
});

/** Loading fails with ENG_EMBEDDER_UNAVAILABLE naming the directory and the reason. */
async function assertUnavailable(dir: string, reason: RegExp): Promise<void> {
  await assert.rejects(OnnxEmbedder.load({ modelDir: dir }), (error: any) => {
    assert.equal(error.code, 'ENG_EMBEDDER_UNAVAILABLE');
    assert.ok(error.message.includes(`"${dir}"`), error.message);
    assert.match(error.message, reason);
    assert.equal(error.details.path, dir);
    return true;
  });
}

test('a missing directory, model or tokenizer fails the load with a clear error', async () => {
  await assertUnavailable(join(root, 'nowhere'), /tokenizer\.json.*ENOENT/);
  const noModel = await modelDir();
  await rm(join(noModel.dir, 'model.onnx'));
  await assertUnavailable(noModel.dir, /cannot load model\.onnx/);
  const noTokenizer = await modelDir();
  await rm(join(noTokenizer.dir, 'tokenizer.json'));
  await assertUnavailable(noTokenizer.dir, /cannot read .*tokenizer\.json/);
});

test('a corrupt model or tokenizer fails the load with a clear error', async () => {
  const corruptModel = await modelDir();
  await writeFile(join(corruptModel.dir, 'model.onnx'), 'this is not a protobuf model');
  await assertUnavailable(corruptModel.dir, /cannot load model\.onnx/);
  const notJson = await modelDir();
  await writeFile(join(notJson.dir, 'tokenizer.json'), '{"model": ');
  await assertUnavailable(notJson.dir, /tokenizer\.json is not JSON/);
  const notTokenizer = await modelDir();
  await writeFile(join(notTokenizer.dir, 'tokenizer.json'), '{"vocab": {}}');
  await assertUnavailable(notTokenizer.dir, /not a tokenizer this build can use/);
  const strangeInput = await modelDir({ extraInput: 'pixel_values' });
  await assertUnavailable(strangeInput.dir, /takes inputs \[.*pixel_values.*\]/);
});

test('a tokenizer without special tokens is cut at max_tokens from the end, with its tokenizer_config.json read', async () => {
  const { dir, model } = await modelDir();
  await writeFile(
    join(dir, 'tokenizer.json'),
    JSON.stringify({ ...tinyTokenizerJson(), post_processor: null }),
  );
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 512 }));
  const embedder = await load(dir, { maxTokens: 3 });
  const words = tinyIds('red green blue sky').slice(1, -1);
  const [vector] = await embedder.embed(['red green blue sky']);
  assertClose(vector!, expectedVector(model, words.slice(0, 3)));
  await writeFile(join(dir, 'tokenizer_config.json'), '[not json');
  await assertUnavailable(dir, /tokenizer_config\.json is not JSON/);
});

test('max_tokens and batch_size are bounded', async () => {
  for (const options of [
    { maxTokens: 0 },
    { maxTokens: 8193 },
    { batchSize: 0 },
    { batchSize: 1.5 },
  ]) {
    await assert.rejects(OnnxEmbedder.load({ modelDir: plainDir, ...options }), {
      code: 'ENG_OPTIONS_INVALID',
    });
  }
});

test('an inference failure is an error, never a fallback vector', async () => {
  // A table shorter than the vocabulary: "star" (the last word) has no row.
  const { dir } = await modelDir({ tableRows: TINY_VOCAB.length - 1 });
  const embedder = await load(dir);
  await assert.rejects(embedder.embed(['star']), (error: any) => {
    assert.equal(error.code, 'ENG_EMBEDDER_UNAVAILABLE');
    assert.match(error.message, /the model failed to run/);
    return true;
  });
  assert.equal((await embedder.embed(['moon']))[0]!.length, 8, 'the next call works');
});

test('an aborted request stops between batches', async () => {
  const embedder = await load(plainDir, { batchSize: 1 });
  await assert.rejects(embedder.embed(['sun', 'moon'], { signal: AbortSignal.abort() }), {
    code: 'ENG_ABORTED',
  });
});

test('a space of another dimension is refused with ENG_VECTOR_DIM_MISMATCH naming both', async () => {
  const embedder = await load(plainDir);
  const catalog = new EmbedderCatalog({ onnx: () => embedder });
  assert.equal(catalog.create('onnx', 8), embedder);
  assert.equal(catalog.create('onnx', undefined).dimension, 8);
  assert.throws(
    () => catalog.create('onnx', 16),
    (error: any) => {
      assert.equal(error.code, 'ENG_VECTOR_DIM_MISMATCH');
      assert.match(error.message, /produces 8 dimensions, the space has 16/);
      assert.deepEqual(error.details, { got: 8, expected: 16 });
      return true;
    },
  );
});
