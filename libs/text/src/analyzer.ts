import { stemmer } from 'stemmer';

/**
 * Lucene's English stop set (the one Pyserini's BM25 baselines use). Stop words stay in the index
 * so that a query made only of them ("to be or not to be") still has meaning; they are dropped from
 * a query that has other terms, so they cannot flood the candidate set.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be but by for if in into is it no not of on or such that the their then ' +
    'there these they this to was will with'
  ).split(' '),
);

/** Longer runs of letters or digits are split into pieces of this many characters. */
export const MAX_TERM_CHARS = 64;

const WORD = /[\p{L}\p{N}]+/gu;
/** English possessives ("patient's", "Hodgkin’s"), dropped as Lucene's EnglishPossessiveFilter does. */
const POSSESSIVE = /(?<=[\p{L}\p{N}])['’]s(?![\p{L}\p{N}])/gu;

/**
 * Stemming is most of the analyzer's cost and words repeat across documents and queries, so stems
 * are memoised. The cache is per thread and bounded: past the bound it starts over.
 */
const STEM_CACHE_MAX = 200_000;
const stems = new Map<string, string>();

/** A term with its ordinal position among the terms of the text. */
export interface PositionedTerm {
  term: string;
  position: number;
}

/**
 * Splits text into index terms: Unicode letters and digits, NFKC-folded, lower-cased, Porter-stemmed
 * (stop words are kept unstemmed). Cost is linear in the text length whatever its shape.
 */
export function analyze(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) out.push(normalizeWord(word));
  return out;
}

/** Like {@link analyze}, keeping each term's position (for proximity scoring). */
export function analyzeWithPositions(text: string): PositionedTerm[] {
  const out: PositionedTerm[] = [];
  let position = 0;
  for (const word of words(text)) out.push({ term: normalizeWord(word), position: position++ });
  return out;
}

/**
 * The distinct terms of a query, in first-seen order. Stop words are dropped unless the query has
 * nothing else.
 */
export function queryTerms(query: string): string[] {
  const all = [...new Set(analyze(query))];
  const content = all.filter((t) => !STOP_WORDS.has(t));
  return content.length > 0 ? content : all;
}

function* words(text: string): Generator<string> {
  for (const match of text.normalize('NFKC').toLowerCase().replace(POSSESSIVE, '').matchAll(WORD)) {
    const word = match[0];
    if (word.length <= MAX_TERM_CHARS) {
      yield word;
    } else {
      for (let i = 0; i < word.length; i += MAX_TERM_CHARS) yield word.slice(i, i + MAX_TERM_CHARS);
    }
  }
}

function normalizeWord(word: string): string {
  if (STOP_WORDS.has(word)) return word;
  let stem = stems.get(word);
  if (stem === undefined) {
    if (stems.size >= STEM_CACHE_MAX) stems.clear();
    stem = stemmer(word);
    stems.set(word, stem);
  }
  return stem;
}
