/**
 * Full-text search input, built from the engine's own tokenizer (engine/text-tokens.ts) so that
 * both backends see the same words: a memory's words become a tsvector literal and a query's a
 * tsquery literal, neither passed through a text-search configuration (whose parser splits text
 * differently, and by locale). Each lexeme carries positions 1..tf, so the number of positions
 * is the term frequency BM25 needs; tsvector keeps at most 256 positions per lexeme, so a word
 * repeated more than 256 times in one memory counts 256 times (the only way lexical scores can
 * differ from the embedded backend's).
 */
import { tokenize } from '../../text-tokens.ts';

/** tsvector and tsquery refuse lexemes longer than this many bytes ("word is too long"). */
const LEXEME_BYTES_MAX = 2046;
/** tsvector keeps at most this many positions per lexeme. */
export const TERM_FREQUENCY_MAX = 256;

function clip(token: string): string {
  if (Buffer.byteLength(token) <= LEXEME_BYTES_MAX) return token;
  let out = '';
  for (const char of token) {
    if (Buffer.byteLength(out + char) > LEXEME_BYTES_MAX) break;
    out += char;
  }
  return out;
}

/** Tokens hold only letters and digits (\p{L}\p{N}): quoting them needs no escaping. */
const quote = (term: string): string => `'${term}'`;

export interface DocumentTerms {
  /** tsvector literal: 'term':1,2,3 per distinct term. */
  tsvector: string;
  /** Number of tokens (the document length BM25 normalises by). */
  tokenCount: number;
}

export function documentTerms(text: string): DocumentTerms {
  const tokens = tokenize(text);
  const counts = new Map<string, number>();
  for (const token of tokens) {
    const term = clip(token);
    counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  const parts: string[] = [];
  for (const [term, tf] of counts) {
    const positions = Array.from({ length: Math.min(tf, TERM_FREQUENCY_MAX) }, (_, i) => i + 1);
    parts.push(`${quote(term)}:${positions.join(',')}`);
  }
  return { tsvector: parts.join(' '), tokenCount: tokens.length };
}

/** The distinct terms of a query, and the tsquery matching a memory holding any of them. */
export function queryTerms(text: string): { terms: string[]; tsquery: string } {
  const terms = [...new Set(tokenize(text).map(clip))];
  return { terms, tsquery: terms.map(quote).join(' | ') };
}
