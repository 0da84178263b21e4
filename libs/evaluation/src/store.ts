import type { DatabaseSync } from 'node:sqlite';
import type { EvaluationReport } from '@keel/contracts/jobs';
import { migrate, openDatabase, storePath } from '@keel/platform/sqlite';

/** What a listing shows of a finished evaluation (the per-query values stay in the report). */
export interface EvaluationSummary {
  id: string;
  label: string;
  collection: string;
  dataset: EvaluationReport['dataset'];
  aggregate: EvaluationReport['aggregate'];
  createdAt: string;
  finishedAt: string;
}

/**
 * Finished evaluations in Keel's store (the same SQLite file as the collections, its own table and
 * migrations). Only a complete run is written, in one statement, by the job that computed it: a
 * failed or cancelled run leaves no report behind. The API reads.
 */
export class EvaluationStore {
  private constructor(private readonly db: DatabaseSync) {}

  static open(dataDir: string): EvaluationStore {
    const db = openDatabase(storePath(dataDir));
    migrate(db, 'evaluation', [
      {
        version: 1,
        sql: `CREATE TABLE evaluations (
          id TEXT PRIMARY KEY, label TEXT NOT NULL, collection TEXT NOT NULL,
          dataset TEXT NOT NULL, aggregate TEXT NOT NULL, report TEXT NOT NULL,
          created_at TEXT NOT NULL, finished_at TEXT NOT NULL);
        CREATE INDEX evaluations_finished_at ON evaluations (finished_at);`,
      },
    ]);
    return new EvaluationStore(db);
  }

  save(report: EvaluationReport): void {
    this.db
      .prepare(
        `INSERT INTO evaluations (id, label, collection, dataset, aggregate, report, created_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        report.id,
        report.label,
        report.collection,
        JSON.stringify(report.dataset),
        JSON.stringify(report.aggregate),
        JSON.stringify(report),
        report.createdAt,
        report.finishedAt,
      );
  }

  get(id: string): EvaluationReport | undefined {
    const row = this.db.prepare('SELECT report FROM evaluations WHERE id = ?').get(id) as
      { report: string } | undefined;
    return row ? (JSON.parse(row.report) as EvaluationReport) : undefined;
  }

  /** The summary of one report, without parsing its per-query values. */
  summary(id: string): EvaluationSummary | undefined {
    return this.summaries('WHERE id = ?', id)[0];
  }

  /** Most recent first. */
  list(limit: number): EvaluationSummary[] {
    return this.summaries('ORDER BY finished_at DESC LIMIT ?', limit);
  }

  private summaries(tail: string, parameter: string | number): EvaluationSummary[] {
    const rows = this.db
      .prepare(
        `SELECT id, label, collection, dataset, aggregate, created_at, finished_at
         FROM evaluations ${tail}`,
      )
      .all(parameter) as Array<{
      id: string;
      label: string;
      collection: string;
      dataset: string;
      aggregate: string;
      created_at: string;
      finished_at: string;
    }>;
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      collection: r.collection,
      dataset: JSON.parse(r.dataset) as EvaluationReport['dataset'],
      aggregate: JSON.parse(r.aggregate) as EvaluationReport['aggregate'],
      createdAt: r.created_at,
      finishedAt: r.finished_at,
    }));
  }

  close(): void {
    this.db.close();
  }
}
