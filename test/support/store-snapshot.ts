import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** Every row Keel stores, read from the SQLite file itself: what "nothing changed" means. */
export function storeSnapshot(dataDir: string): string {
  const db = new DatabaseSync(join(dataDir, 'keel.sqlite'), { readOnly: true });
  try {
    const tables = ['collections', 'documents', 'chunks'];
    const out: Record<string, unknown[]> = {};
    for (const t of tables) out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all();
    const fts = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'fts\\_%' ESCAPE '\\' AND name NOT LIKE '%\\_vocab' ESCAPE '\\' ORDER BY name",
      )
      .all() as Array<{ name: string }>;
    for (const { name } of fts) {
      if (/^fts_\d+$/.test(name))
        out[name] = db.prepare(`SELECT rowid FROM ${name} ORDER BY rowid`).all();
    }
    return JSON.stringify(out);
  } finally {
    db.close();
  }
}
