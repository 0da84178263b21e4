import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Judgements } from './metrics.js';

export interface BeirDocument {
  id: string;
  title: string;
  text: string;
}

export interface BeirDataset {
  corpus: BeirDocument[];
  queries: Map<string, string>;
  qrels: Map<string, Map<string, number>>;
}

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

function jsonLines(file: string): Array<{ value: Record<string, unknown>; line: number }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => text.trim() !== '')
    .map(({ text, line }) => {
      try {
        return { value: JSON.parse(text) as Record<string, unknown>, line };
      } catch {
        throw new DatasetError(`${file}:${line}: not valid JSON`);
      }
    });
}

/**
 * Reads a BEIR-layout directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) for benchmarks.
 * The evaluation module proper (a later issue) streams and validates larger sets.
 */
export function loadBeir(dir: string, split: string): BeirDataset {
  const corpus = jsonLines(join(dir, 'corpus.jsonl')).map(({ value, line }) => {
    if (typeof value._id !== 'string' || typeof value.text !== 'string') {
      throw new DatasetError(`${join(dir, 'corpus.jsonl')}:${line}: needs "_id" and "text"`);
    }
    return {
      id: value._id,
      title: typeof value.title === 'string' ? value.title : '',
      text: value.text,
    };
  });
  const queries = new Map<string, string>();
  for (const { value, line } of jsonLines(join(dir, 'queries.jsonl'))) {
    if (typeof value._id !== 'string' || typeof value.text !== 'string') {
      throw new DatasetError(`${join(dir, 'queries.jsonl')}:${line}: needs "_id" and "text"`);
    }
    queries.set(value._id, value.text);
  }
  const qrelsFile = join(dir, 'qrels', `${split}.tsv`);
  const qrels = new Map<string, Map<string, number>>();
  readFileSync(qrelsFile, 'utf8')
    .split('\n')
    .forEach((row, i) => {
      if (i === 0 || row.trim() === '') return;
      const [qid, docId, score] = row.split('\t');
      const grade = Number(score);
      if (!qid || !docId || score === undefined || !Number.isFinite(grade)) {
        throw new DatasetError(`${qrelsFile}:${i + 1}: expected query-id, corpus-id, score`);
      }
      if (!queries.has(qid)) throw new DatasetError(`${qrelsFile}:${i + 1}: unknown query ${qid}`);
      let judgements = qrels.get(qid);
      if (!judgements) qrels.set(qid, (judgements = new Map<string, number>()));
      judgements.set(docId, grade);
    });
  return { corpus, queries, qrels };
}

export type { Judgements };
