import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { getLoadablePath } from 'sqlite-vec';

export const STORE_FILE = 'keel.sqlite';

export function storePath(dataDir: string): string {
  return join(dataDir, STORE_FILE);
}

export interface OpenOptions {
  /** Milliseconds a writer waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

/**
 * Opens Keel's SQLite store: one file under KEEL_DATA_DIR, shared by the API thread and every
 * pool thread (each with its own connection). WAL lets readers run while one writer commits.
 * sqlite-vec is loaded into every connection so vector tables can live beside the FTS ones.
 */
export function openDatabase(file: string, options: OpenOptions = {}): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true });
  const db = new DatabaseSync(file, { allowExtension: true, enableForeignKeyConstraints: true });
  db.loadExtension(getLoadablePath());
  db.enableLoadExtension(false);
  const busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 5_000);
  db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs};`);
  switchToWal(db, busyTimeoutMs);
  db.exec(`
    PRAGMA synchronous = NORMAL;
    PRAGMA temp_store = MEMORY;
  `);
  return db;
}

/**
 * Puts the file in WAL mode. Connections that open a new file at the same moment (the API, its
 * pool threads and a worker all start at once) each find it in rollback mode and each ask for WAL;
 * SQLite refuses one of two such upgrades at once with "database is locked" rather than wait (its
 * busy handler would deadlock them): 4 threads opening one new file met it in 8 of 200 rounds.
 * The refused one tries again, shortly, until its busy timeout: by then the file is in WAL.
 */
function switchToWal(db: DatabaseSync, busyTimeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; ; waited += 5) {
    try {
      const { journal_mode: mode } = db.prepare('PRAGMA journal_mode').get() as {
        journal_mode: string;
      };
      if (mode !== 'wal') db.exec('PRAGMA journal_mode = WAL;');
      return;
    } catch (error) {
      if (!isBusy(error) || waited >= busyTimeoutMs) throw error;
      Atomics.wait(pause, 0, 0, 5); // synchronous, as the busy handler's own waits are
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown }).errcode;
  // SQLITE_BUSY and its extended codes.
  return typeof code === 'number' && (code & 0xff) === 5;
}

export function sqliteVersions(db: DatabaseSync): { sqlite: string; vec: string } {
  const row = db.prepare('SELECT sqlite_version() AS sqlite, vec_version() AS vec').get() as {
    sqlite: string;
    vec: string;
  };
  return { sqlite: row.sqlite, vec: row.vec };
}

/** Runs `fn` in a transaction: all of it commits, or none of it does. */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

export interface Migration {
  version: number;
  sql: string;
}

/**
 * Applies a component's migrations in order, each in its own transaction. Components (jobs,
 * retrieval, …) version their tables independently so one can evolve without touching another.
 */
export function migrate(db: DatabaseSync, component: string, migrations: Migration[]): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))',
  );
  const applied = new Set(
    (
      db
        .prepare('SELECT version FROM schema_migrations WHERE component = ?')
        .all(component) as Array<{ version: number }>
    ).map((r) => r.version),
  );
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    transaction(db, () => {
      db.exec(m.sql);
      db.prepare(
        'INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)',
      ).run(component, m.version, new Date().toISOString());
    });
  }
}
