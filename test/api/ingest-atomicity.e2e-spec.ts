import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { startKeel, tempDir, type KeelServer } from '../support/keel-server.js';
import { storeSnapshot } from '../support/store-snapshot.js';

function docs(version: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: `doc-${i}`,
    title: `Document ${i}`,
    text: `Version ${version} of document ${i}. ${'Queues and workers and deadlines. '.repeat(30)}`,
  }));
}

async function texts(keel: KeelServer, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push((await keel.request('GET', `/v1/collections/c/documents/doc-${i}`)).body.text);
  }
  return out;
}

describe('ingest is atomic per batch', () => {
  let keel: KeelServer | undefined;

  afterEach(async () => {
    await keel?.dispose();
    keel = undefined;
  });

  it('a batch that fails while writing leaves the previous versions intact', async () => {
    keel = await startKeel();
    await keel.request('POST', '/v1/collections', { name: 'c' });
    const v1 = await keel.request('POST', '/v1/collections/c/documents?wait=true', {
      documents: docs('one', 5),
    });
    expect(v1.body.created).toBe(5);
    const before = storeSnapshot(keel.dataDir);

    // A real SQLite failure in the middle of the write transaction: a trigger that aborts the
    // insert of one particular document's chunks (after earlier documents were already written).
    const db = new DatabaseSync(join(keel.dataDir, 'keel.sqlite'));
    db.exec(
      "CREATE TRIGGER fail_poison BEFORE INSERT ON chunks WHEN NEW.document_id = 'poison' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    db.close();

    const batch = [...docs('two', 5), { id: 'poison', text: 'this one fails to write' }];
    const accepted = await keel.request('POST', '/v1/collections/c/documents', {
      documents: batch,
    });
    expect(accepted.status).toBe(202);
    const failed = await keel.request('POST', '/v1/collections/c/documents?wait=true', {
      documents: batch,
    });
    expect(failed.status).toBe(500);
    expect(failed.body.code).toBe('JOB_FAILED');
    const job = (await keel.request('GET', `/v1/jobs/${accepted.body.jobId}`)).body;
    expect(job.state).toBe('failed');
    expect(job.error.message).toContain('injected failure');

    expect(storeSnapshot(keel.dataDir)).toBe(before);
    for (const text of await texts(keel, 5)) expect(text).toMatch(/^Version one/);
    const hits = await keel.request('POST', '/v1/retrieve', {
      collection: 'c',
      query: 'version two',
    });
    expect(hits.body.hits.every((h: any) => h.text.startsWith('Version one'))).toBe(true);
  });

  it('a process killed mid-ingest restarts with each batch either fully old or fully new', async () => {
    const dataDir = tempDir();
    keel = await startKeel({ dataDir });
    await keel.request('POST', '/v1/collections', { name: 'c' });
    await keel.request('POST', '/v1/collections/c/documents?wait=true', {
      documents: docs('one', 300),
    });
    const accepted = await keel.request('POST', '/v1/collections/c/documents', {
      documents: docs('two', 300),
    });
    expect(accepted.status).toBe(202);
    // Kill as soon as the job is running: chunking 300 documents takes far longer than this.
    for (let i = 0; i < 200; i++) {
      const job = (await keel.request('GET', `/v1/jobs/${accepted.body.jobId}`)).body;
      if (job.state !== 'waiting') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await keel.stop('SIGKILL');

    keel = await startKeel({ dataDir });
    const versions = new Set((await texts(keel, 300)).map((t) => t.slice(0, 11)));
    expect(versions.size).toBe(1);
    const job = (await keel.request('GET', `/v1/jobs/${accepted.body.jobId}`)).body;
    if (versions.has('Version one')) {
      expect(job.state).toBe('failed');
      expect(job.error.message).toMatch(/interrupted by a restart/);
    } else {
      expect(versions.has('Version two')).toBe(true);
    }
    const collection = (await keel.request('GET', '/v1/collections/c')).body;
    expect(collection.documentCount).toBe(300);
    // The store is consistent: its counters match its rows, and search still works.
    const db = new DatabaseSync(join(dataDir, 'keel.sqlite'), { readOnly: true });
    const chunks = db.prepare('SELECT count(*) AS n FROM chunks').get() as { n: number };
    db.close();
    expect(collection.chunkCount).toBe(chunks.n);
    const hits = await keel.request('POST', '/v1/retrieve', {
      collection: 'c',
      query: 'deadlines',
      topK: 5,
    });
    expect(hits.body.hits).toHaveLength(5);
    await keel.dispose();
    keel = undefined;
    const { rmSync } = await import('node:fs');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a wait that outlasts the request deadline is 504, and the batch is still written', async () => {
    keel = await startKeel();
    await keel.request('POST', '/v1/collections', { name: 'c' });
    const big = docs('big', 1_000).map((d) => ({ ...d, text: d.text.repeat(8) }));
    const res = await keel.request(
      'POST',
      '/v1/collections/c/documents?wait=true',
      { documents: big },
      {
        'x-keel-timeout-ms': '100',
      },
    );
    expect([res.status, res.body.code]).toEqual([504, 'DEADLINE_EXCEEDED']);
    const jobId = /GET \/v1\/jobs\/(\S+)/.exec(res.body.message)?.[1];
    expect(jobId).toBeDefined();
    const until = Date.now() + 60_000;
    let job = (await keel.request('GET', `/v1/jobs/${jobId}`)).body;
    while (job.state !== 'completed' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await keel.request('GET', `/v1/jobs/${jobId}`)).body;
    }
    expect(job.state).toBe('completed');
    expect((await keel.request('GET', '/v1/collections/c')).body.documentCount).toBe(1_000);
  });
});
