/**
 * BM25 over the live memories of one space, held in memory. It is derived state: built from
 * the warm tier plus the memtable on first use (so it is rebuilt after every recovery) and then
 * kept current from durable log records as they are acknowledged, so a memory is findable by
 * its words as soon as its write is acknowledged, like it is by its vector.
 */
import { tokenize } from './text-tokens.ts';

const K1 = 1.2;
const B = 0.75;

export class LexicalIndex {
  private readonly postings = new Map<string, Map<string, number>>();
  private readonly lengths = new Map<string, number>();
  private readonly terms = new Map<string, string[]>();
  private totalLength = 0;

  get documents(): number {
    return this.lengths.size;
  }

  /** Indexes (or re-indexes) a memory's text. */
  set(id: string, text: string): void {
    this.remove(id);
    const tokens = tokenize(text);
    const counts = new Map<string, number>();
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const [term, tf] of counts) {
      let list = this.postings.get(term);
      if (!list) {
        list = new Map();
        this.postings.set(term, list);
      }
      list.set(id, tf);
    }
    this.terms.set(id, [...counts.keys()]);
    this.lengths.set(id, tokens.length);
    this.totalLength += tokens.length;
  }

  remove(id: string): void {
    const terms = this.terms.get(id);
    if (!terms) return;
    for (const term of terms) {
      const list = this.postings.get(term)!;
      list.delete(id);
      if (list.size === 0) this.postings.delete(term);
    }
    this.totalLength -= this.lengths.get(id)!;
    this.terms.delete(id);
    this.lengths.delete(id);
  }

  /** BM25 score of every memory sharing a word with the query, best first. */
  search(query: string): Array<{ id: string; score: number }> {
    const n = this.lengths.size;
    if (n === 0) return [];
    const averageLength = this.totalLength / n || 1;
    const scores = new Map<string, number>();
    for (const term of new Set(tokenize(query))) {
      const list = this.postings.get(term);
      if (!list) continue;
      const idf = Math.log(1 + (n - list.size + 0.5) / (list.size + 0.5));
      for (const [id, tf] of list) {
        const length = this.lengths.get(id)!;
        const part = (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * length) / averageLength));
        scores.set(id, (scores.get(id) ?? 0) + part);
      }
    }
    return [...scores]
      .map(([id, score]) => ({ id, score }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  }
}
