import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { ChatUsage } from '@keel/inference';
import { migrate, openDatabase, transaction } from '@keel/platform/sqlite';
import {
  ABANDONED,
  RUN_CURSOR,
  runCursor,
  type AgentRun,
  type AgentRunStore,
  type AgentStep,
  type RunEnd,
  type RunListQuery,
  type RunPage,
  type RunStatus,
} from './types.js';

/**
 * Agent runs of the embedded mode in their own SQLite file under KEEL_DATA_DIR. Not in keel.sqlite:
 * an ingest batch holds that file's write lock for seconds, and a run's step is written on the
 * API thread, which must never wait on it. Each write is one short transaction.
 */
export const AGENT_STORE_FILE = 'agent.sqlite';

interface RunRow {
  id: string;
  status: RunStatus;
  spec: string;
  answer: string | null;
  end_reason: string | null;
  error: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  request_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  cancel_requested: number;
  attempts: number;
  /** epoch ms; a synchronous run's lease (this process's clock: one process owns the file). */
  lease_until: number | null;
}

export class SqliteRunStore implements AgentRunStore {
  private constructor(private readonly db: DatabaseSync) {}

  static open(dataDir: string): SqliteRunStore {
    const db = openDatabase(join(dataDir, AGENT_STORE_FILE), { busyTimeoutMs: 1_000 });
    migrate(db, 'agent', [
      {
        version: 1,
        sql: `CREATE TABLE agent_runs (
          id TEXT PRIMARY KEY, status TEXT NOT NULL, spec TEXT NOT NULL,
          answer TEXT, end_reason TEXT, error TEXT,
          prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
          request_id TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
          cancel_requested INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX agent_runs_status ON agent_runs (status);
        CREATE TABLE agent_steps (
          run_id TEXT NOT NULL REFERENCES agent_runs (id) ON DELETE CASCADE,
          idx INTEGER NOT NULL, step TEXT NOT NULL, PRIMARY KEY (run_id, idx));`,
      },
      { version: 2, sql: 'ALTER TABLE agent_runs ADD COLUMN lease_until INTEGER' },
      { version: 3, sql: 'CREATE INDEX agent_runs_created ON agent_runs (created_at, id)' },
    ]);
    return new SqliteRunStore(db);
  }

  create(run: AgentRun, lease?: { ms: number }): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO agent_runs (id, status, spec, request_id, created_at, attempts, lease_until)
         VALUES (?, ?, ?, ?, ?, 0, ?)`,
      )
      .run(
        run.id,
        run.status,
        JSON.stringify(run.spec),
        run.requestId ?? null,
        run.createdAt,
        lease ? Date.now() + lease.ms : null,
      );
    return Promise.resolve();
  }

  get(id: string): Promise<AgentRun | undefined> {
    const now = Date.now();
    const row = this.row(id);
    if (row && isOpen(row.status) && row.lease_until !== null && row.lease_until < now) {
      // One statement, so a renewal that came in since the read wins over the abandonment.
      this.end(id, ABANDONED, now);
      return Promise.resolve(this.read(id));
    }
    return Promise.resolve(row && this.withSteps(row));
  }

  renewLease(id: string, ms: number): Promise<boolean> {
    const changed = this.db
      .prepare(
        `UPDATE agent_runs SET lease_until = ? WHERE id = ? AND status IN ('queued', 'running')`,
      )
      .run(Date.now() + ms, id).changes;
    return Promise.resolve(changed > 0);
  }

  start(id: string): Promise<AgentRun | undefined> {
    const changed = this.db
      .prepare(
        `UPDATE agent_runs SET status = 'running', attempts = attempts + 1,
           started_at = COALESCE(started_at, ?)
         WHERE id = ? AND status IN ('queued', 'running')`,
      )
      .run(new Date().toISOString(), id).changes;
    return Promise.resolve(changed > 0 ? this.read(id) : undefined);
  }

  appendStep(id: string, step: AgentStep, usage: ChatUsage): Promise<void> {
    transaction(this.db, () => {
      this.db
        .prepare('INSERT INTO agent_steps (run_id, idx, step) VALUES (?, ?, ?)')
        .run(id, step.index, JSON.stringify(step));
      this.db
        .prepare(
          `UPDATE agent_runs SET prompt_tokens = prompt_tokens + ?,
             completion_tokens = completion_tokens + ? WHERE id = ?`,
        )
        .run(usage.promptTokens, usage.completionTokens, id);
    });
    return Promise.resolve();
  }

  finish(id: string, end: RunEnd): Promise<void> {
    this.end(id, end);
    return Promise.resolve();
  }

  /** Ends an open run; with `leaseBefore`, only if its lease lapsed before then. */
  private end(id: string, end: RunEnd, leaseBefore?: number): void {
    this.db
      .prepare(
        `UPDATE agent_runs SET status = ?, end_reason = ?, answer = ?, error = ?, finished_at = ?
         WHERE id = ? AND status IN ('queued', 'running') AND (? IS NULL OR lease_until < ?)`,
      )
      .run(
        end.status,
        end.endReason,
        end.answer ?? null,
        end.error ? JSON.stringify(end.error) : null,
        new Date().toISOString(),
        id,
        leaseBefore ?? null,
        leaseBefore ?? null,
      );
  }

  requestCancel(id: string): Promise<void> {
    this.db.prepare('UPDATE agent_runs SET cancel_requested = 1 WHERE id = ?').run(id);
    return Promise.resolve();
  }

  unfinished(): Promise<string[]> {
    const rows = this.db
      .prepare(
        `SELECT id FROM agent_runs WHERE status IN ('queued', 'running') ORDER BY created_at`,
      )
      .all() as Array<{ id: string }>;
    return Promise.resolve(rows.map((r) => r.id));
  }

  list(query: RunListQuery): Promise<RunPage> {
    const cursor = query.before ? RUN_CURSOR.exec(query.before) : null;
    const beforeAt = cursor ? new Date(Number(cursor[1])).toISOString() : null;
    const rows = this.db
      .prepare(
        `SELECT r.*, (SELECT COUNT(*) FROM agent_steps s WHERE s.run_id = r.id) AS step_count
         FROM agent_runs r
         WHERE (? IS NULL OR r.status = ?)
           AND (? IS NULL OR r.created_at < ? OR (r.created_at = ? AND r.id < ?))
         ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
      )
      .all(
        query.status ?? null,
        query.status ?? null,
        beforeAt,
        beforeAt,
        beforeAt,
        cursor?.[2] ?? null,
        query.limit + 1,
      ) as unknown as Array<RunRow & { step_count: number }>;
    const now = Date.now();
    const page = rows.slice(0, query.limit);
    const runs = page.flatMap((row) => {
      let current: RunRow = row;
      if (isOpen(row.status) && row.lease_until !== null && row.lease_until < now) {
        this.end(row.id, ABANDONED, now);
        current = this.row(row.id) ?? row;
        // Ended by this read: no longer of the status asked for.
        if (query.status && current.status !== query.status) return [];
      }
      const { steps: _steps, answer: _answer, ...summary } = fromRow(current, []);
      return [{ ...summary, stepCount: row.step_count }];
    });
    const last = page.at(-1);
    return Promise.resolve({
      runs,
      ...(rows.length > query.limit && last
        ? { next: runCursor({ id: last.id, createdAt: last.created_at }) }
        : {}),
    });
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }

  private row(id: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM agent_runs WHERE id = ?').get(id) as RunRow | undefined;
  }

  private read(id: string): AgentRun | undefined {
    const row = this.row(id);
    return row && this.withSteps(row);
  }

  private withSteps(row: RunRow): AgentRun {
    const steps = (
      this.db
        .prepare('SELECT step FROM agent_steps WHERE run_id = ? ORDER BY idx')
        .all(row.id) as Array<{ step: string }>
    ).map((s) => JSON.parse(s.step) as AgentStep);
    return fromRow(row, steps);
  }
}

function isOpen(status: RunStatus): boolean {
  return status === 'queued' || status === 'running';
}

function fromRow(row: RunRow, steps: AgentStep[]): AgentRun {
  return {
    id: row.id,
    status: row.status,
    spec: JSON.parse(row.spec) as AgentRun['spec'],
    steps,
    ...(row.answer !== null ? { answer: row.answer } : {}),
    ...(row.end_reason !== null ? { endReason: row.end_reason as AgentRun['endReason'] } : {}),
    ...(row.error !== null ? { error: JSON.parse(row.error) as AgentRun['error'] } : {}),
    usage: { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens },
    ...(row.request_id !== null ? { requestId: row.request_id } : {}),
    createdAt: row.created_at,
    ...(row.started_at !== null ? { startedAt: row.started_at } : {}),
    ...(row.finished_at !== null ? { finishedAt: row.finished_at } : {}),
    ...(row.cancel_requested ? { cancelRequested: true } : {}),
    attempts: row.attempts,
  };
}
