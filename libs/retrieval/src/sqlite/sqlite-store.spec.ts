import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestDocument, Metadata } from '@keel/contracts/jobs';
import {
  documentHash,
  SqliteStore,
  type CollectionRow,
  type PreparedDocument,
} from './sqlite-store.js';

const CHUNKING = { chunkSize: 64, chunkOverlap: 0, encoding: 'o200k_base' as const };

function unit(...v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** One chunk per document, with the given vector. */
function doc(
  id: string,
  vector: number[] | undefined,
  metadata?: Metadata,
  text = `text of ${id}`,
): PreparedDocument {
  const d: IngestDocument = { id, text, ...(metadata ? { metadata } : {}) };
  return {
    doc: d,
    hash: documentHash(d, CHUNKING),
    chunks: [
      { index: 0, text, start: 0, end: text.length, tokens: 3, ...(vector ? { vector } : {}) },
    ],
  };
}

describe('SqliteStore vectors (sqlite-vec)', () => {
  let dir: string;
  let store: SqliteStore;
  let c: CollectionRow;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keel-store-'));
    store = SqliteStore.open(dir);
    store.migrate();
    c = store.createCollection('v', CHUNKING, { model: 'test-model', dimensions: 3 });
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the embedding model and returns the nearest chunks by cosine similarity', () => {
    expect(store.requireCollection('v').embedding).toEqual({ model: 'test-model', dimensions: 3 });
    store.upsertDocuments(c, [
      doc('x', unit(1, 0, 0)),
      doc('y', unit(0, 1, 0)),
      doc('xy', unit(1, 1, 0)),
    ]);
    const hits = store.knn(c.id, unit(1, 0.1, 0), { topK: 2, group: 'chunk' });
    expect(hits.map((h) => h.documentId)).toEqual(['x', 'xy']);
    expect(hits[0].score).toBeCloseTo(unit(1, 0.1, 0)[0], 5);
    expect(hits[0]).toMatchObject({ id: 'x#0', chunkIndex: 0, text: 'text of x', rank: 1 });
  });

  it('applies metadata filters before the top k is cut', () => {
    store.upsertDocuments(c, [
      doc('near', unit(1, 0, 0), { lang: 'de' }),
      doc('far', unit(0, 0, 1), { lang: 'en' }),
    ]);
    const hits = store.knn(c.id, unit(1, 0, 0), {
      topK: 1,
      group: 'document',
      filter: { lang: 'en' },
    });
    expect(hits.map((h) => h.documentId)).toEqual(['far']);
  });

  it('replaces a document’s vectors when it changes and drops them when it is deleted', () => {
    store.upsertDocuments(c, [doc('a', unit(1, 0, 0)), doc('b', unit(0, 1, 0))]);
    store.upsertDocuments(c, [doc('a', unit(0, 0, 1), undefined, 'new text of a')]);
    expect(store.knn(c.id, unit(0, 0, 1), { topK: 1, group: 'chunk' })[0]).toMatchObject({
      documentId: 'a',
      text: 'new text of a',
    });
    // The old vector of 'a' is gone: only two vectors are left.
    expect(store.knn(c.id, unit(1, 0, 0), { topK: 10, group: 'chunk' })).toHaveLength(2);
    expect(store.deleteDocument(c, 'a')).toBe(true);
    expect(
      store.knn(c.id, unit(0, 0, 1), { topK: 10, group: 'chunk' }).map((h) => h.documentId),
    ).toEqual(['b']);
  });

  it('refuses a chunk without a vector, or with the wrong dimensions, and keeps the batch out', () => {
    store.upsertDocuments(c, [doc('kept', unit(1, 0, 0))]);
    expect(() => store.upsertDocuments(c, [doc('new', unit(0, 1, 0)), doc('bad', [1, 0])])).toThrow(
      /2-dimensional vector; collection 'v' needs 3/,
    );
    expect(() => store.upsertDocuments(c, [doc('none', undefined)])).toThrow(/no vector/);
    expect(store.requireCollection('v').documentCount).toBe(1);
    expect(
      store.knn(c.id, unit(0, 1, 0), { topK: 10, group: 'chunk' }).map((h) => h.documentId),
    ).toEqual(['kept']);
  });

  it('answers DENSE_UNAVAILABLE for a collection without vectors, and checks the query dimensions', () => {
    const plain = store.createCollection('plain', CHUNKING);
    expect(() => store.knn(plain.id, [1, 0, 0], { topK: 1, group: 'chunk' })).toThrow(
      expect.objectContaining({ code: 'DENSE_UNAVAILABLE' }),
    );
    expect(() => store.knn(c.id, [1, 0], { topK: 1, group: 'chunk' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('drops the vector table with the collection', () => {
    store.upsertDocuments(c, [doc('a', unit(1, 0, 0))]);
    expect(store.deleteCollection('v')).toBe(true);
    const again = store.createCollection('v', CHUNKING, { model: 'test-model', dimensions: 3 });
    expect(store.knn(again.id, unit(1, 0, 0), { topK: 5, group: 'chunk' })).toEqual([]);
  });
});
