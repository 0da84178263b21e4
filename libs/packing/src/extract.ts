import { analyze, queryTerms, splitSentences } from '@keel/text';
import type { Citation } from './pack.js';

/** A passage of the packed context (an entry of `PackResult.included` will do). */
export interface AnswerPassage {
  id: string;
  marker: number;
  text: string;
  title?: string;
  documentId?: string;
}

export interface ExtractOptions {
  query: string;
  /** The included passages, in their order in the context. */
  passages: readonly AnswerPassage[];
  /** Most sentences in the answer (default 3). */
  maxSentences?: number;
}

export interface ExtractiveAnswer {
  answer: string;
  /** The passages the answer cites, in the order their markers first appear. */
  citations: Citation[];
}

export const DEFAULT_ANSWER_SENTENCES = 3;

/**
 * A sentence joins the answer only when it scores at least this share of the best sentence: a
 * sentence that shares one common query word with the question is not part of the answer.
 */
export const MIN_RELATIVE_SCORE = 0.5;

/** What an extractive answer says when no sentence of the context shares a term with the query. */
export const NO_ANSWER = 'No relevant information was found in the provided documents.';

interface Scored {
  passage: number;
  sentence: number;
  text: string;
  score: number;
}

/**
 * The answer Keel gives without a language model: the sentences of the packed context that best
 * match the query (sum over the query terms a sentence contains of an IDF weight computed over the
 * context's sentences, so a term every sentence has counts for little), at most `maxSentences` and
 * none scoring under `MIN_RELATIVE_SCORE` of the best,
 * in their order in the context, each followed by its passage's marker: `... sentence. [2]`.
 */
export function extractAnswer(options: ExtractOptions): ExtractiveAnswer {
  const { query, passages } = options;
  const maxSentences = options.maxSentences ?? DEFAULT_ANSWER_SENTENCES;
  if (!Number.isInteger(maxSentences) || maxSentences < 1) {
    throw new RangeError(`maxSentences must be a positive integer, got ${maxSentences}`);
  }
  const wanted = queryTerms(query);
  const sentences: Array<Omit<Scored, 'score'> & { terms: Set<string> }> = [];
  passages.forEach((passage, p) => {
    splitSentences(passage.text).forEach((s, k) => {
      sentences.push({ passage: p, sentence: k, text: s.text, terms: new Set(analyze(s.text)) });
    });
  });
  if (wanted.length === 0 || sentences.length === 0) return { answer: NO_ANSWER, citations: [] };

  const n = sentences.length;
  const weight = new Map<string, number>();
  for (const term of wanted) {
    let df = 0;
    for (const s of sentences) if (s.terms.has(term)) df++;
    // BM25's IDF: positive even for a term in every sentence, largest for the rarest.
    if (df > 0) weight.set(term, Math.log(1 + (n - df + 0.5) / (df + 0.5)));
  }
  const scored: Scored[] = [];
  for (const s of sentences) {
    let score = 0;
    for (const [term, w] of weight) if (s.terms.has(term)) score += w;
    if (score > 0) scored.push({ passage: s.passage, sentence: s.sentence, text: s.text, score });
  }
  if (scored.length === 0) return { answer: NO_ANSWER, citations: [] };

  // Best first; earlier in the context breaks ties (passages are in relevance order). The same
  // sentence twice (copies across passages) is said once.
  scored.sort((a, b) => b.score - a.score || a.passage - b.passage || a.sentence - b.sentence);
  const chosen: Scored[] = [];
  const said = new Set<string>();
  const floor = scored[0].score * MIN_RELATIVE_SCORE;
  for (const s of scored) {
    if (s.score < floor) break;
    const normalized = normalize(s.text);
    if (said.has(normalized)) continue;
    said.add(normalized);
    chosen.push(s);
    if (chosen.length === maxSentences) break;
  }
  chosen.sort((a, b) => a.passage - b.passage || a.sentence - b.sentence);

  const citations: Citation[] = [];
  const cited = new Set<number>();
  const parts = chosen.map((s) => {
    const passage = passages[s.passage];
    if (!cited.has(passage.marker)) {
      cited.add(passage.marker);
      citations.push({
        marker: passage.marker,
        id: passage.id,
        ...(passage.documentId !== undefined ? { documentId: passage.documentId } : {}),
        ...(passage.title !== undefined ? { title: passage.title } : {}),
      });
    }
    return `${normalize(s.text)} [${passage.marker}]`;
  });
  return { answer: parts.join(' '), citations };
}

/** One line, single spaces: sentences from different passages read as one answer. */
function normalize(text: string): string {
  return text.replace(/\s+/gu, ' ');
}
