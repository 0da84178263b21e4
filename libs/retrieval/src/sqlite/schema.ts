import type { Migration } from '@keel/platform/sqlite';

export const RETRIEVAL_MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE collections (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        chunk_size INTEGER NOT NULL,
        chunk_overlap INTEGER NOT NULL,
        encoding TEXT NOT NULL,
        embedding_model TEXT,
        embedding_dim INTEGER,
        document_count INTEGER NOT NULL DEFAULT 0,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        term_count INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE documents (
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        title TEXT,
        text TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        content_hash TEXT NOT NULL,
        chunk_count INTEGER NOT NULL,
        term_count INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (collection_id, id)
      ) WITHOUT ROWID;
      -- chunks.id is the rowid of the chunk in the collection's FTS table.
      CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL,
        document_id TEXT NOT NULL,
        chunk_index INTEGER NOT NULL,
        text TEXT NOT NULL,
        start_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        term_count INTEGER NOT NULL,
        UNIQUE (collection_id, document_id, chunk_index),
        FOREIGN KEY (collection_id, document_id) REFERENCES documents(collection_id, id) ON DELETE CASCADE
      );
    `,
  },
];

/** Vector tables (sqlite-vec) are named like the FTS ones: after the internal id. */
export function vecTable(collectionId: number): string {
  if (!Number.isSafeInteger(collectionId) || collectionId <= 0) {
    throw new RangeError(`bad collection id ${collectionId}`);
  }
  return `vec_${collectionId}`;
}

/** FTS tables are named after the collection's internal id, never after user input. */
export function ftsTable(collectionId: number): string {
  if (!Number.isSafeInteger(collectionId) || collectionId <= 0) {
    throw new RangeError(`bad collection id ${collectionId}`);
  }
  return `fts_${collectionId}`;
}

export function ftsVocabTable(collectionId: number): string {
  return `${ftsTable(collectionId)}_vocab`;
}
