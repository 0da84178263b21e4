// The leg orchestration on its own: legs here are plain functions standing in for the backends
// (the e2e tests run the same code against the SQLite store, the job pool and OpenSearch).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { KeelError, type SearchHit, type SearchResult } from '@keel/contracts/jobs';
import { retrieve, type LegRequest, type RetrievalLegs } from './retriever.js';

function hit(documentId: string, rank: number, score: number): SearchHit {
  return {
    id: `${documentId}#0`,
    documentId,
    chunkIndex: 0,
    text: documentId,
    metadata: {},
    score,
    rank,
  };
}

function result(...ids: string[]): SearchResult {
  return { hits: ids.map((id, i) => hit(id, i + 1, 10 - i)), terms: ['t'] };
}

const spec = (mode: 'bm25' | 'dense' | 'hybrid', ms = 2_000) => ({
  query: 'q',
  topK: 3,
  mode,
  group: 'document' as const,
  deadline: Date.now() + ms,
});

/** A leg that never answers on its own and reports whether it saw its signal abort. */
function hanging(): { run: (r: LegRequest) => Promise<SearchResult>; aborted: () => boolean } {
  let aborted = false;
  return {
    run: (r) =>
      new Promise<SearchResult>((_, reject) => {
        r.signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      }),
    aborted: () => aborted,
  };
}

describe('retrieve', () => {
  it('fuses both legs by reciprocal rank and reports each', async () => {
    const legs: RetrievalLegs = {
      bm25: () => Promise.resolve(result('a', 'b', 'c')),
      dense: () => Promise.resolve(result('c', 'd')),
    };
    const r = await retrieve(legs, spec('hybrid'));
    expect(r.hits.map((h) => h.documentId)).toEqual(['c', 'a', 'b']);
    expect(r.hits[0].legs).toEqual({ bm25: { rank: 3, score: 8 }, dense: { rank: 1, score: 10 } });
    expect(r.degraded).toBe(false);
    expect(r.legs.bm25).toMatchObject({ status: 'ok', hits: 3, contributed: 3 });
    expect(r.legs.dense).toMatchObject({ status: 'ok', hits: 2, contributed: 1 });
    expect(r.hits.map((h) => h.rank)).toEqual([1, 2, 3]);
  });

  it('answers from the surviving leg when the other fails, and says so', async () => {
    const legs: RetrievalLegs = {
      bm25: () => Promise.reject(new KeelError('BACKEND_UNAVAILABLE', 'down')),
      dense: () => Promise.resolve(result('d')),
    };
    const r = await retrieve(legs, spec('hybrid'));
    expect(r.degraded).toBe(true);
    expect(r.failedLegs).toEqual(['bm25']);
    expect(r.legs.bm25).toMatchObject({ status: 'failed', error: { code: 'BACKEND_UNAVAILABLE' } });
    expect(r.hits.map((h) => h.documentId)).toEqual(['d']);
  });

  it('cuts a slow leg at its deadline, aborts it, and degrades', async () => {
    const slow = hanging();
    const legs: RetrievalLegs = { bm25: () => Promise.resolve(result('a')), dense: slow.run };
    const started = Date.now();
    const r = await retrieve(legs, spec('hybrid', 250));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(r.legs.dense?.status).toBe('timeout');
    expect(slow.aborted()).toBe(true);
    expect(r.degraded).toBe(true);
  });

  it('a leg that stops on its own timer for the same deadline timed out too', async () => {
    // As the embedding client does: its own timer, set from the leg's deadline, may fire first.
    const legs: RetrievalLegs = {
      bm25: () => Promise.resolve(result('a')),
      dense: (r) =>
        new Promise<SearchResult>((_, reject) =>
          setTimeout(
            () =>
              reject(
                new KeelError(
                  'DEADLINE_EXCEEDED',
                  'the deadline passed before the server answered',
                ),
              ),
            Math.max(0, r.deadline - Date.now() - 20),
          ),
        ),
    };
    const r = await retrieve(legs, spec('hybrid', 250));
    expect(r.legs.dense?.status).toBe('timeout');
    expect(r.degraded).toBe(true);
  });

  it('when every leg fails: 503 BACKEND_UNAVAILABLE naming them, or their one shared error', async () => {
    const mixed: RetrievalLegs = {
      bm25: () => Promise.reject(new KeelError('BACKEND_UNAVAILABLE', 'down')),
      dense: () => Promise.reject(new KeelError('EMBEDDINGS_UNAVAILABLE', 'down')),
    };
    await expect(retrieve(mixed, spec('hybrid'))).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      details: [
        expect.objectContaining({ field: 'bm25' }),
        expect.objectContaining({ field: 'dense' }),
      ],
    });
    const shed: RetrievalLegs = {
      bm25: () => Promise.reject(new KeelError('OVERLOADED', 'full', undefined, 1)),
    };
    await expect(retrieve(shed, spec('bm25'))).rejects.toMatchObject({ code: 'OVERLOADED' });
  });

  it('needs a dense leg for dense and hybrid', async () => {
    const legs: RetrievalLegs = { bm25: () => Promise.resolve(result('a')) };
    await expect(retrieve(legs, spec('dense'))).rejects.toMatchObject({
      code: 'DENSE_UNAVAILABLE',
    });
    await expect(retrieve(legs, spec('bm25'))).resolves.toMatchObject({ degraded: false });
  });

  it('a cancelled request is CANCELLED, not a backend failure', async () => {
    const controller = new AbortController();
    const slow = hanging();
    const pending = retrieve({ bm25: slow.run }, { ...spec('bm25'), signal: controller.signal });
    controller.abort(new DOMException('client disconnected', 'AbortError'));
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(slow.aborted()).toBe(true);
  });
});

describe('retrieve leaves nothing behind', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it('a leg result is collectable once the request answered, long before its deadline', async () => {
    const refs: Array<WeakRef<SearchResult>> = [];
    const request = new AbortController();
    const once = async () => {
      const legs: RetrievalLegs = {
        bm25: () => {
          const r = result('a', 'b');
          refs.push(new WeakRef(r));
          return Promise.resolve(r);
        },
      };
      // A minute of deadline: Node keeps a timeout or composite signal that has an abort listener
      // alive until its timer fires, and with it whatever the listener reaches.
      const answer = await retrieve(legs, { ...spec('bm25', 60_000), signal: request.signal });
      expect(answer.hits).toHaveLength(2);
    };
    for (let i = 0; i < 5; i++) await once();
    // WeakRefs hold their targets until the current job ends.
    await new Promise((r) => setTimeout(r, 10));
    gc();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });
});
