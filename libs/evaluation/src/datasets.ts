import { createReadStream, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Qrels } from './types.js';

/** A bad dataset file: names the file and, when it is about one line, the line (1-based). */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';

  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
  }
}

/** Non-empty lines of a text file, streamed, with their 1-based numbers. */
export async function* textLines(file: string): AsyncGenerator<{ text: string; line: number }> {
  if (!existsSync(file)) throw new DatasetError(file, undefined, 'no such file');
  const reader = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const text of reader) {
    line += 1;
    if (text.trim() !== '') yield { text, line };
  }
}

/** JSON objects of a JSONL file, streamed; a line that is not a JSON object is an error. */
export async function* jsonLines(
  file: string,
): AsyncGenerator<{ value: Record<string, unknown>; line: number }> {
  for await (const { text, line } of textLines(file))
    yield { value: parseJsonLine(file, text, line), line };
}

export function parseJsonLine(file: string, text: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DatasetError(file, line, 'not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DatasetError(file, line, 'expected a JSON object');
  }
  return value as Record<string, unknown>;
}

// ---- BEIR layout -----------------------------------------------------------------------------

export interface BeirDocument {
  id: string;
  title: string;
  text: string;
  metadata?: Record<string, unknown>;
}

export interface BeirQuery {
  id: string;
  text: string;
}

/** BEIR ids are strings, but some exports write numbers: both are accepted, as strings. */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

export function parseCorpusLine(file: string, text: string, line: number): BeirDocument {
  const o = parseJsonLine(file, text, line);
  const id = idOf(o._id);
  if (id === undefined || typeof o.text !== 'string') {
    throw new DatasetError(file, line, 'needs "_id" and a string "text"');
  }
  const metadata =
    o.metadata !== null && typeof o.metadata === 'object' && !Array.isArray(o.metadata)
      ? (o.metadata as Record<string, unknown>)
      : undefined;
  return {
    id,
    title: typeof o.title === 'string' ? o.title : '',
    text: o.text,
    ...(metadata ? { metadata } : {}),
  };
}

export function parseQueryLine(file: string, text: string, line: number): BeirQuery {
  const o = parseJsonLine(file, text, line);
  const id = idOf(o._id);
  if (id === undefined || typeof o.text !== 'string' || o.text.trim() === '') {
    throw new DatasetError(file, line, 'needs "_id" and a non-empty string "text"');
  }
  return { id, text: o.text };
}

export interface QrelsRow {
  queryId: string;
  docId: string;
  grade: number;
}

const QRELS_HEADER = /^query-?id\tcorpus-?id\tscore$/iu;

/**
 * One row of a BEIR qrels TSV (`query-id corpus-id score`, tab-separated; the header row is
 * recognised and skipped). Grades are integers, as trec_eval reads them.
 */
export function parseQrelsRow(file: string, text: string, line: number): QrelsRow | undefined {
  if (QRELS_HEADER.test(text.trim())) return undefined;
  const cells = text.split('\t').map((c) => c.trim());
  if (cells.length !== 3 || cells.some((c) => c === '')) {
    throw new DatasetError(
      file,
      line,
      `expected 3 tab-separated columns (query-id, corpus-id, score), got ${cells.filter((c) => c !== '').length}`,
    );
  }
  const [queryId, docId, score] = cells;
  if (!/^-?\d+$/u.test(score)) {
    throw new DatasetError(file, line, `score ${JSON.stringify(score)} is not an integer`);
  }
  return { queryId, docId, grade: Number(score) };
}

export async function* readBeirCorpus(dir: string): AsyncGenerator<BeirDocument> {
  const file = join(dir, 'corpus.jsonl');
  for await (const { text, line } of textLines(file)) yield parseCorpusLine(file, text, line);
}

export async function readBeirQueries(dir: string): Promise<Map<string, string>> {
  const file = join(dir, 'queries.jsonl');
  const queries = new Map<string, string>();
  for await (const { text, line } of textLines(file)) {
    const query = parseQueryLine(file, text, line);
    if (queries.has(query.id)) throw new DatasetError(file, line, `duplicate query ${query.id}`);
    queries.set(query.id, query.text);
  }
  return queries;
}

/** qrels/<split>.tsv; every query id must be one of `queries`. */
export async function readBeirQrels(
  dir: string,
  split: string,
  queries: ReadonlyMap<string, string>,
): Promise<Map<string, Map<string, number>>> {
  if (!/^[\w.-]+$/u.test(split)) {
    throw new DatasetError(
      join(dir, 'qrels'),
      undefined,
      `bad split name ${JSON.stringify(split)}`,
    );
  }
  const file = join(dir, 'qrels', `${split}.tsv`);
  const qrels = new Map<string, Map<string, number>>();
  for await (const { text, line } of textLines(file)) {
    const row = parseQrelsRow(file, text, line);
    if (!row) continue;
    if (!queries.has(row.queryId)) {
      throw new DatasetError(file, line, `query ${row.queryId} is not in queries.jsonl`);
    }
    let judgements = qrels.get(row.queryId);
    if (!judgements) qrels.set(row.queryId, (judgements = new Map<string, number>()));
    judgements.set(row.docId, row.grade);
  }
  if (qrels.size === 0) throw new DatasetError(file, undefined, 'no judgements');
  return qrels;
}

/** What a retrieval evaluation needs: the judged queries of one split and their judgements. */
export interface RetrievalDataset {
  kind: 'retrieval';
  name: string;
  split: string;
  /** The queries that have judgements in this split, in queries.jsonl order. */
  queries: BeirQuery[];
  qrels: Qrels;
}

export async function loadRetrievalDataset(dir: string, split: string): Promise<RetrievalDataset> {
  const all = await readBeirQueries(dir);
  const qrels = await readBeirQrels(dir, split, all);
  const queries = [...all].filter(([id]) => qrels.has(id)).map(([id, text]) => ({ id, text }));
  return { kind: 'retrieval', name: basename(dir.replace(/\/+$/u, '')), split, queries, qrels };
}

// ---- answer-level layout ---------------------------------------------------------------------

/** One line of an answer-level dataset (JSONL). */
export interface AnswerItem {
  id: string;
  question: string;
  /** Acceptable answers (exact match and token F1 take the best). */
  answers: string[];
  /** Gold evidence as text (context recall, citation precision). */
  contexts?: string[];
  /** Gold evidence as document ids. */
  docIds?: string[];
}

function stringArray(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined;
  return value;
}

/**
 * `{ "id"?, "question", "answers": [..], "contexts"?: [..], "docIds"?: [..] }` per line. An item
 * needs at least one gold answer or some gold evidence; ids default to `line-<n>`.
 */
export function parseAnswerLine(file: string, text: string, line: number): AnswerItem {
  const o = parseJsonLine(file, text, line);
  const id = o.id === undefined ? `line-${line}` : idOf(o.id);
  if (id === undefined) throw new DatasetError(file, line, '"id" must be a string');
  if (typeof o.question !== 'string' || o.question.trim() === '') {
    throw new DatasetError(file, line, 'needs a non-empty string "question"');
  }
  const answers = stringArray(o.answers ?? []);
  const contexts = stringArray(o.contexts);
  const docIds = stringArray(o.docIds ?? o.doc_ids);
  if (!answers) throw new DatasetError(file, line, '"answers" must be an array of strings');
  if (o.contexts !== undefined && !contexts) {
    throw new DatasetError(file, line, '"contexts" must be an array of strings');
  }
  if ((o.docIds ?? o.doc_ids) !== undefined && !docIds) {
    throw new DatasetError(file, line, '"docIds" must be an array of strings');
  }
  if (answers.length === 0 && !contexts?.length && !docIds?.length) {
    throw new DatasetError(file, line, 'needs gold "answers", "contexts" or "docIds"');
  }
  return {
    id,
    question: o.question,
    answers,
    ...(contexts ? { contexts } : {}),
    ...(docIds ? { docIds } : {}),
  };
}

export interface AnswerDataset {
  kind: 'answers';
  name: string;
  items: AnswerItem[];
}

export async function loadAnswerDataset(file: string): Promise<AnswerDataset> {
  const items: AnswerItem[] = [];
  const seen = new Set<string>();
  for await (const { text, line } of textLines(file)) {
    const item = parseAnswerLine(file, text, line);
    if (seen.has(item.id)) throw new DatasetError(file, line, `duplicate id ${item.id}`);
    seen.add(item.id);
    items.push(item);
  }
  if (items.length === 0) throw new DatasetError(file, undefined, 'no items');
  return { kind: 'answers', name: basename(file).replace(/\.jsonl$/u, ''), items };
}
