/**
 * Answer-level measures that need no LLM: SQuAD v1.1 exact match and token F1 against gold
 * answers, and two measures of the evidence Keel packed and cited against gold evidence.
 * Pure functions (STYLE.md #15).
 */

import type { AnswerMeasure } from './types.js';

/** A passage of the packed context, or one the answer cited. */
export interface AnswerPassage {
  id: string;
  documentId?: string;
  text: string;
}

/**
 * What a dataset knows about the right answer to one query. The evidence measures use the
 * strongest kind given: document ids, else gold context strings, else the answers themselves.
 */
export interface AnswerGold {
  docIds?: readonly string[];
  contexts?: readonly string[];
  answers?: readonly string[];
}

// Python's `string.punctuation`: ASCII only, so “curly quotes” and dashes stay, as in SQuAD.
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
// Python's `re` word characters for str patterns (letters, numbers, underscore). JavaScript's `\b`
// knows ASCII only and would find a boundary inside "éthe"; these lookarounds do not.
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
// What Python's str.split() splits on (str.isspace), which differs from JavaScript's `\s`:
// it adds U+001C–U+001F and U+0085 and leaves out U+FEFF.
const WHITESPACE =
  // eslint-disable-next-line no-control-regex -- U+001C–U+001F are whitespace to Python
  /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/**
 * `normalize_answer` of the official SQuAD v1.1 evaluation script: lowercase, drop ASCII
 * punctuation, replace the articles a/an/the by a space, collapse whitespace.
 */
export function normalizeAnswer(text: string): string {
  const lower = text.toLowerCase();
  let withoutPunctuation = '';
  for (const ch of lower) if (!PUNCTUATION.has(ch)) withoutPunctuation += ch;
  return tokens(withoutPunctuation.replace(ARTICLES, ' ')).join(' ');
}

function tokens(text: string): string[] {
  return text.split(WHITESPACE).filter((token) => token !== '');
}

/**
 * 1 when the normalised prediction equals a normalised gold answer, else 0. As in the script, an
 * empty prediction matches an empty (or all-article) gold; no golds at all scores 0.
 */
export function exactMatch(prediction: string, golds: readonly string[]): number {
  const normalized = normalizeAnswer(prediction);
  return golds.some((gold) => normalizeAnswer(gold) === normalized) ? 1 : 0;
}

/**
 * The SQuAD v1.1 token F1 (multiset overlap of normalised tokens), best over the gold answers.
 * As in the v1.1 script, no common token scores 0, even when both sides are empty.
 */
export function tokenF1(prediction: string, golds: readonly string[]): number {
  const predicted = tokens(normalizeAnswer(prediction));
  let best = 0;
  for (const gold of golds) best = Math.max(best, f1(predicted, tokens(normalizeAnswer(gold))));
  return best;
}

function f1(predicted: readonly string[], gold: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const token of gold) counts.set(token, (counts.get(token) ?? 0) + 1);
  let same = 0;
  for (const token of predicted) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      same += 1;
      counts.set(token, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predicted.length;
  const recall = same / gold.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Whether `needle` occurs in `haystack` on whole normalised tokens, so "art" is not found in
 * "smart" and punctuation or case never decide. An empty needle (a gold of only articles and
 * punctuation) is found nowhere: it would otherwise match every context.
 */
function containsNormalized(haystack: string, needle: string): boolean {
  return needle !== '' && ` ${haystack} `.includes(` ${needle} `);
}

type Evidence =
  | { kind: 'docIds'; docIds: ReadonlySet<string> }
  | { kind: 'contexts'; contexts: string[] }
  | { kind: 'answers'; answers: string[] }
  | { kind: 'none' };

function evidenceOf(gold: AnswerGold): Evidence {
  if (gold.docIds !== undefined && gold.docIds.length > 0) {
    return { kind: 'docIds', docIds: new Set(gold.docIds) };
  }
  if (gold.contexts !== undefined && gold.contexts.length > 0) {
    return { kind: 'contexts', contexts: unique(gold.contexts.map(normalizeAnswer)) };
  }
  if (gold.answers !== undefined && gold.answers.length > 0) {
    return { kind: 'answers', answers: unique(gold.answers.map(normalizeAnswer)) };
  }
  return { kind: 'none' };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * The share of the gold evidence present in the packed context:
 * - gold document ids: the share of them that are the `documentId` of some passage;
 * - else gold context strings: the share of them found in the passages' texts joined in order,
 *   by normalised containment on whole tokens (a gold context split over two adjacent passages
 *   counts; one cut short by chunking does not — containment was chosen over a token-recall
 *   threshold because a long context holds most words of any short passage by chance);
 * - else gold answers: 1 when any of them is found in the joined context, else 0.
 * No gold evidence at all scores 0.
 */
export function contextRecall(contexts: readonly AnswerPassage[], gold: AnswerGold): number {
  const evidence = evidenceOf(gold);
  switch (evidence.kind) {
    case 'docIds': {
      const present = new Set(contexts.map((passage) => passage.documentId));
      let found = 0;
      for (const id of evidence.docIds) if (present.has(id)) found += 1;
      return found / evidence.docIds.size;
    }
    case 'contexts': {
      const joined = contexts.map((passage) => normalizeAnswer(passage.text)).join(' ');
      const found = evidence.contexts.filter((context) => containsNormalized(joined, context));
      return found.length / evidence.contexts.length;
    }
    case 'answers': {
      const joined = contexts.map((passage) => normalizeAnswer(passage.text)).join(' ');
      return evidence.answers.some((answer) => containsNormalized(joined, answer)) ? 1 : 0;
    }
    case 'none':
      return 0;
  }
}

/**
 * The share of cited passages (each id once) that hold gold evidence, judged by the same kind of
 * gold as `contextRecall`: the passage's `documentId` is a gold document id; else the passage
 * contains a gold context or is a part of one (gold contexts are often whole paragraphs, longer
 * than Keel's chunks); else the passage contains a gold answer. An answer that cites nothing
 * scores 0: an uncited answer gives the reader nothing to check, and a precision of 1 for it
 * would reward citing nothing.
 */
export function citationPrecision(cited: readonly AnswerPassage[], gold: AnswerGold): number {
  const passages = [...new Map(cited.map((passage) => [passage.id, passage])).values()];
  if (passages.length === 0) return 0;
  const evidence = evidenceOf(gold);
  const supports = (passage: AnswerPassage): boolean => {
    switch (evidence.kind) {
      case 'docIds':
        return passage.documentId !== undefined && evidence.docIds.has(passage.documentId);
      case 'contexts': {
        const text = normalizeAnswer(passage.text);
        return evidence.contexts.some(
          (context) => containsNormalized(text, context) || containsNormalized(context, text),
        );
      }
      case 'answers': {
        const text = normalizeAnswer(passage.text);
        return evidence.answers.some((answer) => containsNormalized(text, answer));
      }
      case 'none':
        return false;
    }
  };
  return passages.filter(supports).length / passages.length;
}

/** Everything one answered query needs for the answer measures. */
export interface AnswerSample {
  answer: string;
  /** The packed context the model saw. */
  contexts: readonly AnswerPassage[];
  /** The passages the answer cited. */
  cited: readonly AnswerPassage[];
  gold: AnswerGold;
}

/** The four answer measures of one query; exact match and F1 score 0 without gold answers. */
export function scoreAnswer(sample: AnswerSample): Record<AnswerMeasure, number> {
  const answers = sample.gold.answers ?? [];
  return {
    exact_match: exactMatch(sample.answer, answers),
    token_f1: tokenF1(sample.answer, answers),
    context_recall: contextRecall(sample.contexts, sample.gold),
    citation_precision: citationPrecision(sample.cited, sample.gold),
  };
}

/**
 * Judges whether an answer is supported by its contexts (faithfulness in [0, 1]). Nothing here
 * implements it: an LLM client (a later issue) will provide one, and the runner adds
 * `faithfulness` to a run's metrics only when a judge is configured, so runs without one keep
 * the LLM-free measures above and stay reproducible.
 */
export interface AnswerJudge {
  readonly name: string;
  judge(input: {
    question: string;
    answer: string;
    contexts: string[];
    signal: AbortSignal;
  }): Promise<{ faithfulness: number; rationale?: string }>;
}
