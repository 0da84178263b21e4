import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { JobRecord, JobState, QueueName, SerializedError } from '@keel/contracts/jobs';
import { migrate, openDatabase } from '@keel/platform/sqlite';

interface Row {
  id: string;
  queue: QueueName;
  name: string;
  state: JobState;
  progress: number;
  result: string | null;
  error: string | null;
  request_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function toRecord(r: Row): JobRecord {
  return {
    id: r.id,
    queue: r.queue,
    name: r.name,
    state: r.state,
    progress: r.progress,
    ...(r.result !== null ? { result: JSON.parse(r.result) as unknown } : {}),
    ...(r.error !== null ? { error: JSON.parse(r.error) as SerializedError } : {}),
    ...(r.request_id !== null ? { requestId: r.request_id } : {}),
    createdAt: r.created_at,
    ...(r.started_at !== null ? { startedAt: r.started_at } : {}),
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
  };
}

/**
 * Records of tracked jobs, in their own SQLite file written only by the API thread: pool threads
 * hold the store's write lock during ingest, and a job-state update must never wait on it.
 */
export class JobStore {
  private constructor(private readonly db: DatabaseSync) {}

  static open(dataDir: string): JobStore {
    const db = openDatabase(join(dataDir, 'jobs.sqlite'));
    migrate(db, 'jobs', [
      {
        version: 1,
        sql: `CREATE TABLE jobs (
          id TEXT PRIMARY KEY, queue TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
          progress REAL NOT NULL DEFAULT 0, result TEXT, error TEXT, request_id TEXT,
          created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
        CREATE INDEX jobs_finished_at ON jobs (finished_at);`,
      },
    ]);
    return new JobStore(db);
  }

  /** Jobs a previous process accepted but never finished: nothing runs them any more. */
  failInterrupted(): number {
    const error: SerializedError = {
      code: 'JOB_FAILED',
      message:
        'interrupted by a restart before it finished; submit it again (ingest is idempotent)',
    };
    const { changes } = this.db
      .prepare(
        "UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE state IN ('waiting', 'active')",
      )
      .run(JSON.stringify(error), new Date().toISOString());
    return Number(changes);
  }

  insert(record: JobRecord): void {
    this.db
      .prepare(
        'INSERT INTO jobs (id, queue, name, state, progress, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        record.id,
        record.queue,
        record.name,
        record.state,
        record.progress,
        record.requestId ?? null,
        record.createdAt,
      );
  }

  update(record: JobRecord): void {
    this.db
      .prepare(
        'UPDATE jobs SET state = ?, progress = ?, result = ?, error = ?, started_at = ?, finished_at = ? WHERE id = ?',
      )
      .run(
        record.state,
        record.progress,
        record.result === undefined ? null : JSON.stringify(record.result),
        record.error === undefined ? null : JSON.stringify(record.error),
        record.startedAt ?? null,
        record.finishedAt ?? null,
        record.id,
      );
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Drops finished records older than the retention window. */
  prune(olderThan: Date): number {
    const { changes } = this.db
      .prepare('DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?')
      .run(olderThan.toISOString());
    return Number(changes);
  }

  close(): void {
    this.db.close();
  }
}
