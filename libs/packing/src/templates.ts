import { PackingError } from './errors.js';
import { boundRuns } from './runs.js';

/**
 * Keel's default RAG prompt. Templates are data: `{context}` is replaced by the numbered passages,
 * `{query}` by the question; each appears exactly once.
 */
export const RAG_TEMPLATE = [
  'Answer the question using only the context below. The context is a list of passages, each',
  'starting with a marker such as [1]. Cite the passages that support each statement with their',
  'markers, for example [1] or [2][3]. If the context does not contain the answer, say that you',
  'could not find it in the provided documents; do not answer from memory.',
  '',
  'Context:',
  '{context}',
  '',
  'Question: {query}',
  '',
  'Answer:',
].join('\n');

/** The same contract, terser: for small budgets and models that need less instruction. */
export const CONCISE_RAG_TEMPLATE = [
  'Answer from the context only and cite passage markers like [1]. If the answer is not there, say so.',
  '',
  '{context}',
  '',
  'Q: {query}',
  'A:',
].join('\n');

export const DEFAULT_TEMPLATE = RAG_TEMPLATE;

/**
 * The system message of a generated answer. The packed prompt (the user message) already says how
 * to answer; this says it where chat models give instructions the most weight, and names the one
 * citation form Keel checks (`[n]`, as the passages are numbered).
 */
export const ANSWER_SYSTEM_PROMPT = [
  'You answer questions using only the numbered passages you are given.',
  'Cite the passages that support each statement as [n], using the numbers in the passages, for',
  'example [1] or [2][3]. Never cite a number that is not in the passages. If the passages do not',
  'contain the answer, say so; do not answer from memory.',
].join(' ');

export const PROMPT_TEMPLATES: Readonly<Record<'rag' | 'concise', string>> = {
  rag: RAG_TEMPLATE,
  concise: CONCISE_RAG_TEMPLATE,
};

const PLACEHOLDER = /\{(context|query)\}/gu;

/** A template split at its placeholders: literal text and the two slots, in order. */
export interface ParsedTemplate {
  parts: Array<string | { slot: 'context' | 'query' }>;
}

/** Checks a template and splits it once; throws a VALIDATION_FAILED PackingError when it is unusable. */
export function parseTemplate(template: string): ParsedTemplate {
  const parts: ParsedTemplate['parts'] = [];
  const seen = { context: 0, query: 0 };
  let position = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const slot = match[1] as 'context' | 'query';
    parts.push(boundRuns(template.slice(position, match.index)), { slot });
    seen[slot]++;
    position = match.index + match[0].length;
  }
  parts.push(boundRuns(template.slice(position)));
  if (seen.context !== 1 || seen.query !== 1) {
    throw new PackingError(
      'VALIDATION_FAILED',
      `a prompt template must contain {context} and {query} exactly once each (found ${seen.context} and ${seen.query})`,
    );
  }
  return { parts };
}

/**
 * Fills a parsed template in one pass, so a query or passage that happens to contain `{context}`
 * or `{query}` is left as it is.
 */
export function renderTemplate(template: ParsedTemplate, context: string, query: string): string {
  return template.parts
    .map((part) => (typeof part === 'string' ? part : part.slot === 'context' ? context : query))
    .join('');
}
