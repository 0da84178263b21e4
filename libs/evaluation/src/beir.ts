import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DatasetError,
  parseCorpusLine,
  parseQrelsRow,
  parseQueryLine,
  type BeirDocument,
} from './datasets.js';

export { DatasetError };
export type { BeirDocument };

export interface BeirDataset {
  corpus: BeirDocument[];
  queries: Map<string, string>;
  qrels: Map<string, Map<string, number>>;
}

function lines(file: string): Array<{ text: string; line: number }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => text.trim() !== '');
}

/**
 * A whole BEIR-layout directory in memory, corpus included, for benchmarks that index the corpus
 * themselves. Same validation as the streaming readers of `datasets.ts`.
 */
export function loadBeir(dir: string, split: string): BeirDataset {
  const corpusFile = join(dir, 'corpus.jsonl');
  const corpus = lines(corpusFile).map(({ text, line }) => parseCorpusLine(corpusFile, text, line));
  const queriesFile = join(dir, 'queries.jsonl');
  const queries = new Map<string, string>();
  for (const { text, line } of lines(queriesFile)) {
    const query = parseQueryLine(queriesFile, text, line);
    queries.set(query.id, query.text);
  }
  const qrelsFile = join(dir, 'qrels', `${split}.tsv`);
  const qrels = new Map<string, Map<string, number>>();
  for (const { text, line } of lines(qrelsFile)) {
    const row = parseQrelsRow(qrelsFile, text, line);
    if (!row) continue;
    if (!queries.has(row.queryId)) {
      throw new DatasetError(qrelsFile, line, `query ${row.queryId} is not in queries.jsonl`);
    }
    let judgements = qrels.get(row.queryId);
    if (!judgements) qrels.set(row.queryId, (judgements = new Map<string, number>()));
    judgements.set(row.docId, row.grade);
  }
  return { corpus, queries, qrels };
}
