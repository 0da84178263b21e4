import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DatasetError,
  loadAnswerDataset,
  loadRetrievalDataset,
  readBeirCorpus,
} from './datasets.js';

const root = mkdtempSync(join(tmpdir(), 'keel-datasets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A BEIR directory with the given files (relative path → content). */
function beir(files: Record<string, string>): string {
  const dir = join(root, `beir-${(n += 1)}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const QUERIES = '{"_id":"q1","text":"first"}\n{"_id":"q2","text":"second"}\n';

async function failure(promise: Promise<unknown>): Promise<DatasetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatasetError);
  return error as DatasetError;
}

describe('BEIR datasets', () => {
  it('reads the judged queries of a split, header skipped, ids as strings', async () => {
    const dir = beir({
      'queries.jsonl': `${QUERIES}{"_id":3,"text":"third"}\n`,
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq2\td1\t1\n3\td2\t2\n3\td3\t0\n',
    });
    const dataset = await loadRetrievalDataset(dir, 'test');
    expect(dataset.queries).toEqual([
      { id: 'q2', text: 'second' },
      { id: '3', text: 'third' },
    ]);
    expect(dataset.qrels.get('3')).toEqual(
      new Map([
        ['d2', 2],
        ['d3', 0],
      ]),
    );
    expect(dataset.split).toBe('test');
  });

  it('names file and line of a qrels row with a missing column', async () => {
    const dir = beir({
      'queries.jsonl': QUERIES,
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\n',
    });
    const error = await failure(loadRetrievalDataset(dir, 'test'));
    expect(error.message).toBe(
      `${join(dir, 'qrels/test.tsv')}:3: expected 3 tab-separated columns (query-id, corpus-id, score), got 2`,
    );
    expect(error.line).toBe(3);
  });

  it('names file and line of a non-numeric or fractional score', async () => {
    for (const score of ['high', '1.5']) {
      const dir = beir({
        'queries.jsonl': QUERIES,
        'qrels/test.tsv': `q1\td1\t1\n\nq2\td2\t${score}\n`,
      });
      const error = await failure(loadRetrievalDataset(dir, 'test'));
      expect(error.message).toBe(
        `${join(dir, 'qrels/test.tsv')}:3: score "${score}" is not an integer`,
      );
    }
  });

  it('names file and line of a judged query that is not in queries.jsonl', async () => {
    const dir = beir({ 'queries.jsonl': QUERIES, 'qrels/dev.tsv': 'q1\td1\t1\nq7\td1\t1\n' });
    const error = await failure(loadRetrievalDataset(dir, 'dev'));
    expect(error.message).toBe(`${join(dir, 'qrels/dev.tsv')}:2: query q7 is not in queries.jsonl`);
  });

  it('rejects a bad queries line, a duplicate query, a missing split and a bad split name', async () => {
    const badLine = beir({ 'queries.jsonl': '{"_id":"q1","text":"x"}\n{"_id":"q2"}\n' });
    expect((await failure(loadRetrievalDataset(badLine, 'test'))).message).toBe(
      `${join(badLine, 'queries.jsonl')}:2: needs "_id" and a non-empty string "text"`,
    );
    const twice = beir({ 'queries.jsonl': `${QUERIES}{"_id":"q1","text":"again"}\n` });
    expect((await failure(loadRetrievalDataset(twice, 'test'))).message).toBe(
      `${join(twice, 'queries.jsonl')}:3: duplicate query q1`,
    );
    const noSplit = beir({ 'queries.jsonl': QUERIES });
    expect((await failure(loadRetrievalDataset(noSplit, 'test'))).message).toBe(
      `${join(noSplit, 'qrels/test.tsv')}: no such file`,
    );
    expect((await failure(loadRetrievalDataset(noSplit, '../test'))).reason).toMatch(
      /^bad split name/,
    );
  });

  it('names file and line of a corpus line that is not JSON, after streaming the good ones', async () => {
    const dir = beir({
      'corpus.jsonl': '{"_id":"d1","title":"t","text":"a"}\n{"_id":"d2","text":"b"\n',
    });
    const seen: string[] = [];
    const error = await failure(
      (async () => {
        for await (const doc of readBeirCorpus(dir)) seen.push(doc.id);
      })(),
    );
    expect(seen).toEqual(['d1']);
    expect(error.message).toBe(`${join(dir, 'corpus.jsonl')}:2: not valid JSON`);
  });
});

describe('answer-level datasets', () => {
  function file(content: string): string {
    const path = join(root, `answers-${(n += 1)}.jsonl`);
    writeFileSync(path, content);
    return path;
  }

  it('reads items with gold answers, contexts and doc ids; ids default to the line', async () => {
    const path = file(
      '{"id":"a","question":"Q1?","answers":["x"],"docIds":["d1"]}\n\n' +
        '{"question":"Q2?","answers":[],"contexts":["some evidence"]}\n',
    );
    const dataset = await loadAnswerDataset(path);
    expect(dataset.items).toEqual([
      { id: 'a', question: 'Q1?', answers: ['x'], docIds: ['d1'] },
      { id: 'line-3', question: 'Q2?', answers: [], contexts: ['some evidence'] },
    ]);
  });

  it('names file and line of each kind of bad item', async () => {
    const cases: Array<[string, string]> = [
      ['{"question":"Q?","answers":"x"}', '"answers" must be an array of strings'],
      ['{"question":"","answers":["x"]}', 'needs a non-empty string "question"'],
      ['{"question":"Q?","answers":[]}', 'needs gold "answers", "contexts" or "docIds"'],
      ['{"question":"Q?","answers":["x"],"docIds":[1]}', '"docIds" must be an array of strings'],
      ['["not", "an", "object"]', 'expected a JSON object'],
    ];
    for (const [line, reason] of cases) {
      const path = file(`{"id":"ok","question":"Fine?","answers":["y"]}\n${line}\n`);
      expect((await failure(loadAnswerDataset(path))).message).toBe(`${path}:2: ${reason}`);
    }
    const twice = file('{"id":"a","question":"Q?","answers":["x"]}\n'.repeat(2));
    expect((await failure(loadAnswerDataset(twice))).message).toBe(`${twice}:2: duplicate id a`);
  });
});
