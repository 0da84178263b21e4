// Threads that open one new store file at the same moment, as the API's pool threads and its own
// connection do at boot: every one of them opens it. The threads run the built code (dist/), the
// same openDatabase a pool thread calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/keel-server.js';

const DATABASE = pathToFileURL(join(REPO_ROOT, 'dist/libs/platform/src/sqlite/database.js')).href;

// Each thread waits for the same go signal, then opens the file and says how it went.
const THREAD = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.module).then(({ openDatabase }) => {
  parentPort.postMessage('loaded');
  Atomics.wait(workerData.go, 0, 0);
  try {
    const db = openDatabase(workerData.file);
    const { journal_mode } = db.prepare('PRAGMA journal_mode').get();
    db.close();
    parentPort.postMessage(journal_mode);
  } catch (error) {
    parentPort.postMessage(String(error.message));
  }
});`;

async function openAtOnce(threads: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-sqlite-open-'));
  const go = new Int32Array(new SharedArrayBuffer(4));
  const workers = Array.from(
    { length: threads },
    () =>
      new Worker(THREAD, {
        eval: true,
        workerData: { module: DATABASE, file: join(dir, 'keel.sqlite'), go },
      }),
  );
  try {
    const replies = workers.map((w) => {
      return {
        loaded: new Promise<void>((resolve) =>
          w.on('message', (m: string) => m === 'loaded' && resolve()),
        ),
        done: new Promise<string>((resolve) => {
          w.on('message', (m: string) => m !== 'loaded' && resolve(m));
          w.once('error', (e) => resolve(String(e)));
        }),
      };
    });
    await Promise.all(replies.map((r) => r.loaded));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    return await Promise.all(replies.map((r) => r.done));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('opening a new store from several threads at once', () => {
  it('every thread opens it, in WAL mode (4 threads, 60 new files)', async () => {
    const failed: string[] = [];
    for (let round = 0; round < 60; round++) {
      for (const reply of await openAtOnce(4)) if (reply !== 'wal') failed.push(reply);
    }
    expect(failed).toEqual([]);
  }, 120_000);
});
