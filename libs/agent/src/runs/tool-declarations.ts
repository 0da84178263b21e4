import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { Redis } from 'ioredis';
import { migrate, openDatabase } from '@keel/platform/sqlite';
import { AGENT_STORE_FILE } from './sqlite-run-store.js';

/**
 * HTTP tools registered through POST /v1/tools, kept as their declarations (never their secrets:
 * a declaration names a secret, the value is read at call time). They survive a restart and, in
 * distributed mode, every API replica serves the same list.
 */
export interface ToolDeclarationStore {
  save(name: string, declaration: unknown): Promise<void>;
  remove(name: string): Promise<boolean>;
  all(): Promise<Array<{ name: string; declaration: unknown }>>;
}

export class SqliteToolDeclarations implements ToolDeclarationStore {
  private constructor(private readonly db: DatabaseSync) {}

  static open(dataDir: string): SqliteToolDeclarations {
    const db = openDatabase(join(dataDir, AGENT_STORE_FILE), { busyTimeoutMs: 1_000 });
    migrate(db, 'agent-tools', [
      {
        version: 1,
        sql: `CREATE TABLE agent_tools (name TEXT PRIMARY KEY, declaration TEXT NOT NULL,
          created_at TEXT NOT NULL)`,
      },
    ]);
    return new SqliteToolDeclarations(db);
  }

  save(name: string, declaration: unknown): Promise<void> {
    this.db
      .prepare('INSERT INTO agent_tools (name, declaration, created_at) VALUES (?, ?, ?)')
      .run(name, JSON.stringify(declaration), new Date().toISOString());
    return Promise.resolve();
  }

  remove(name: string): Promise<boolean> {
    return Promise.resolve(
      this.db.prepare('DELETE FROM agent_tools WHERE name = ?').run(name).changes > 0,
    );
  }

  all(): Promise<Array<{ name: string; declaration: unknown }>> {
    const rows = this.db
      .prepare('SELECT name, declaration FROM agent_tools ORDER BY created_at')
      .all() as Array<{ name: string; declaration: string }>;
    return Promise.resolve(
      rows.map((r) => ({ name: r.name, declaration: JSON.parse(r.declaration) as unknown })),
    );
  }
}

export class RedisToolDeclarations implements ToolDeclarationStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:agent:tools`;
  }

  async save(name: string, declaration: unknown): Promise<void> {
    await this.redis.hset(this.key, name, JSON.stringify(declaration));
  }

  async remove(name: string): Promise<boolean> {
    return (await this.redis.hdel(this.key, name)) > 0;
  }

  async all(): Promise<Array<{ name: string; declaration: unknown }>> {
    const all = await this.redis.hgetall(this.key);
    return Object.entries(all).map(([name, d]) => ({
      name,
      declaration: JSON.parse(d) as unknown,
    }));
  }
}
