/**
 * lexicalHits stops loading candidates once no later BM25 result can enter the top k; this
 * checks, against a full scan of every result, that it returns exactly the same hits in the
 * same order for random documents, confidences, filters, k and thresholds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LexicalIndex } from '../../engine/lexical-index.ts';
import type { MemoryRecord } from '../../engine/memory.ts';
import { lexicalHits, rankScored, type RecallSources } from '../../engine/space-recall.ts';
import { fuzzParameters } from '../helpers/fuzz.ts';
import { testRecord } from '../helpers/records.ts';

const WORDS = ['gene', 'editing', 'crispr', 'protein', 'fold', 'cell', 'lab', 'notes'];

function record(id: string, content: string, confidence: number): MemoryRecord {
  return testRecord(id, { content, confidence, tags: confidence > 0.5 ? ['high'] : [] });
}

test('lexical top k with early stopping equals the top k of a full scan', () => {
  const doc = fc.record({
    words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 8 }),
    confidence: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  fc.assert(
    fc.property(
      fc.array(doc, { minLength: 1, maxLength: 40 }),
      fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(-1, 0, 0.2, 0.5, 0.8),
      fc.boolean(),
      (docs, query, k, threshold, onlyHigh) => {
        const lexical = new LexicalIndex();
        const records = new Map<string, MemoryRecord>();
        docs.forEach(({ words, confidence }, i) => {
          const r = record(`m${String(i).padStart(2, '0')}`, words.join(' '), confidence);
          records.set(r.id, r);
          lexical.set(r.id, r.content);
        });
        const sources = {
          memtable: { get: () => undefined },
          hot: { get: () => undefined },
          warm: { getRecord: (id: string) => records.get(id) },
          index: undefined,
        } as unknown as RecallSources;
        const accept = (m: MemoryRecord): boolean => !onlyHigh || m.tags.includes('high');
        const text = query.join(' ');
        const got = lexicalHits(sources, lexical, text, k, threshold, accept);
        const results = lexical.search(text);
        const top = results[0]?.score ?? 0;
        const all = results
          .map(({ id, score }) => ({ memory: records.get(id)!, score }))
          .filter(({ memory }) => accept(memory))
          .map(({ memory, score }) => ({
            memory,
            relevance: score / top,
            parts: { lexical: score },
          }));
        const expected = rankScored(all, k, threshold);
        assert.deepEqual(
          got.map((h) => [h.memory.id, h.score]),
          expected.map((h) => [h.memory.id, h.score]),
        );
      },
    ),
    fuzzParameters('lexical top k', 2000),
  );
});
