import { createHash } from 'node:crypto';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import {
  KeelError,
  type ChunkingSettings,
  type CorpusStats,
  type EmbeddingSpec,
  type IngestDocument,
  type IngestDocumentStatus,
  type Metadata,
  type SearchHit,
} from '@keel/contracts/jobs';
import { migrate, openDatabase, storePath, transaction } from '@keel/platform/sqlite';
import { analyze, queryTerms } from '@keel/text';
import { RETRIEVAL_MIGRATIONS, ftsTable, ftsVocabTable, vecTable } from './schema.js';

/**
 * Weight of the title column against the body in FTS5's bm25() (k1 = 1.2, b = 0.75 are fixed
 * inside FTS5). Tuned on SciFact train (flat from 2.5 to 4; 1 is clearly worse) by
 * test/bench/tune-rerank.ts; see docs/benchmarks/retrieval.md. It is stored with each
 * collection's FTS table when the collection is created.
 */
export const BM25_TITLE_WEIGHT = 3;

export interface CollectionRow {
  id: number;
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  encoding: ChunkingSettings['encoding'];
  /** Set when the collection has vectors (dense and hybrid retrieval). */
  embedding?: EmbeddingSpec;
  documentCount: number;
  chunkCount: number;
  termCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface PreparedChunk {
  index: number;
  text: string;
  start: number;
  end: number;
  tokens: number;
  /** The chunk's embedding, for a collection with vectors (L2-normalised). */
  vector?: readonly number[];
}

/** A document after chunking, ready to be written. */
export interface PreparedDocument {
  doc: IngestDocument;
  hash: string;
  chunks: PreparedChunk[];
}

export interface StoredDocument {
  id: string;
  title?: string;
  text: string;
  metadata: Metadata;
  chunks: number;
  updatedAt: string;
}

export interface SearchOptions {
  topK: number;
  filter?: Metadata;
  group: 'chunk' | 'document';
}

interface RawCollection {
  id: number;
  name: string;
  chunk_size: number;
  chunk_overlap: number;
  encoding: ChunkingSettings['encoding'];
  embedding_model: string | null;
  embedding_dim: number | null;
  document_count: number;
  chunk_count: number;
  term_count: number;
  created_at: string;
  updated_at: string;
}

function toCollection(r: RawCollection): CollectionRow {
  return {
    id: r.id,
    name: r.name,
    chunkSize: r.chunk_size,
    chunkOverlap: r.chunk_overlap,
    encoding: r.encoding,
    ...(r.embedding_model !== null && r.embedding_dim !== null
      ? { embedding: { model: r.embedding_model, dimensions: r.embedding_dim } }
      : {}),
    documentCount: r.document_count,
    chunkCount: r.chunk_count,
    termCount: r.term_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Content hash of everything that shapes a document's chunks: unchanged → nothing to rewrite. */
export function documentHash(doc: IngestDocument, chunking: ChunkingSettings): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([doc.title ?? null, doc.text, sortedMetadata(doc.metadata), chunking]));
  return h.digest('base64url');
}

function sortedMetadata(metadata: Metadata | undefined): Array<[string, unknown]> {
  return Object.entries(metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function ftsQuery(terms: string[]): string {
  // Every term is quoted, so nothing in user input is read as FTS5 query syntax.
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}

function bindable(value: Metadata[string]): SQLInputValue {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** A vector as sqlite-vec reads it: little-endian float32. */
function vectorBlob(vector: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(vector).buffer);
}

/** sqlite-vec's vec0 takes integer rowids only; node:sqlite binds plain numbers as REAL. */
function rowid(id: number | bigint): bigint {
  return BigInt(id);
}

/**
 * The embedded search store: collections, documents and chunks in one SQLite file, BM25 over
 * pre-analyzed chunk text with one FTS5 table per collection (so IDF and length statistics are
 * per collection). Writes run in pool threads only: a writer may wait on the file lock, and the
 * API event loop must never be the one waiting.
 */
export class SqliteStore {
  private readonly statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();

  private constructor(readonly db: DatabaseSync) {}

  static open(dataDir: string): SqliteStore {
    return new SqliteStore(openDatabase(storePath(dataDir)));
  }

  /** Creates or upgrades the tables; run once at boot before any thread opens the store. */
  migrate(): void {
    migrate(this.db, 'retrieval', RETRIEVAL_MIGRATIONS);
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }

  private stmt(sql: string): ReturnType<DatabaseSync['prepare']> {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  // ---- collections -----------------------------------------------------------------------------

  getCollection(name: string): CollectionRow | undefined {
    const row = this.stmt('SELECT * FROM collections WHERE name = ?').get(name) as
      RawCollection | undefined;
    return row ? toCollection(row) : undefined;
  }

  requireCollection(name: string): CollectionRow {
    const c = this.getCollection(name);
    if (!c) throw new KeelError('COLLECTION_NOT_FOUND', `collection '${name}' does not exist`);
    return c;
  }

  listCollections(): CollectionRow[] {
    return (
      this.stmt('SELECT * FROM collections ORDER BY name').all() as unknown as RawCollection[]
    ).map(toCollection);
  }

  createCollection(
    name: string,
    settings: ChunkingSettings,
    embedding?: EmbeddingSpec,
  ): CollectionRow {
    if (
      embedding &&
      !(
        Number.isSafeInteger(embedding.dimensions) &&
        embedding.dimensions > 0 &&
        embedding.dimensions <= 8_192
      )
    ) {
      throw new KeelError('VALIDATION_FAILED', `bad embedding dimensions ${embedding.dimensions}`);
    }
    return transaction(this.db, () => {
      if (this.getCollection(name)) {
        throw new KeelError('COLLECTION_EXISTS', `collection '${name}' already exists`);
      }
      const now = new Date().toISOString();
      const { lastInsertRowid } = this.stmt(
        'INSERT INTO collections (name, chunk_size, chunk_overlap, encoding, embedding_model, embedding_dim, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        name,
        settings.chunkSize,
        settings.chunkOverlap,
        settings.encoding,
        embedding?.model ?? null,
        embedding?.dimensions ?? null,
        now,
        now,
      );
      const id = Number(lastInsertRowid);
      if (embedding) {
        // Cosine distance, as the embeddings are normalised; exact (flat) search.
        this.db.exec(
          `CREATE VIRTUAL TABLE ${vecTable(id)} USING vec0(embedding float[${embedding.dimensions}] distance_metric=cosine)`,
        );
      }
      const fts = ftsTable(id);
      this.db.exec(
        `CREATE VIRTUAL TABLE ${fts} USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2', content = '', contentless_delete = 1)`,
      );
      this.db.exec(`CREATE VIRTUAL TABLE ${ftsVocabTable(id)} USING fts5vocab(${fts}, 'row')`);
      return this.requireCollection(name);
    });
  }

  deleteCollection(name: string): boolean {
    return transaction(this.db, () => {
      const c = this.getCollection(name);
      if (!c) return false;
      this.db.exec(`DROP TABLE IF EXISTS ${ftsVocabTable(c.id)}`);
      this.db.exec(`DROP TABLE IF EXISTS ${ftsTable(c.id)}`);
      this.db.exec(`DROP TABLE IF EXISTS ${vecTable(c.id)}`);
      this.stmt('DELETE FROM chunks WHERE collection_id = ?').run(c.id);
      this.stmt('DELETE FROM documents WHERE collection_id = ?').run(c.id);
      this.stmt('DELETE FROM collections WHERE id = ?').run(c.id);
      return true;
    });
  }

  // ---- documents -------------------------------------------------------------------------------

  /** Hashes already stored for these ids, to skip documents that did not change. */
  storedHashes(collectionId: number, ids: string[]): Map<string, string> {
    const out = new Map<string, string>();
    const s = this.stmt('SELECT content_hash FROM documents WHERE collection_id = ? AND id = ?');
    for (const id of ids) {
      const row = s.get(collectionId, id) as { content_hash: string } | undefined;
      if (row) out.set(id, row.content_hash);
    }
    return out;
  }

  /**
   * Writes a batch in one transaction: each changed document's old chunks are replaced by its new
   * ones. Any failure rolls the whole batch back, so the previous versions stay intact.
   */
  upsertDocuments(
    collection: CollectionRow,
    prepared: PreparedDocument[],
  ): Array<{ id: string; status: IngestDocumentStatus; chunks: number }> {
    const fts = ftsTable(collection.id);
    const now = new Date().toISOString();
    return transaction(this.db, () => {
      const current = this.getCollectionById(collection.id);
      if (!current) {
        throw new KeelError(
          'COLLECTION_NOT_FOUND',
          `collection '${collection.name}' does not exist`,
        );
      }
      const results: Array<{ id: string; status: IngestDocumentStatus; chunks: number }> = [];
      let docDelta = 0;
      let chunkDelta = 0;
      let termDelta = 0;
      const insertFts = this.db.prepare(`INSERT INTO ${fts} (rowid, title, body) VALUES (?, ?, ?)`);
      const deleteFts = this.db.prepare(`DELETE FROM ${fts} WHERE rowid = ?`);
      const dims = current.embedding?.dimensions;
      const vec = dims === undefined ? undefined : vecTable(collection.id);
      const insertVec = vec
        ? this.db.prepare(`INSERT INTO ${vec} (rowid, embedding) VALUES (?, ?)`)
        : undefined;
      const deleteVec = vec ? this.db.prepare(`DELETE FROM ${vec} WHERE rowid = ?`) : undefined;
      for (const { doc, hash, chunks } of prepared) {
        const existing = this.stmt(
          'SELECT content_hash, chunk_count, term_count FROM documents WHERE collection_id = ? AND id = ?',
        ).get(collection.id, doc.id) as
          { content_hash: string; chunk_count: number; term_count: number } | undefined;
        if (existing?.content_hash === hash) {
          results.push({ id: doc.id, status: 'unchanged', chunks: existing.chunk_count });
          continue;
        }
        if (existing) {
          const old = this.stmt(
            'SELECT id FROM chunks WHERE collection_id = ? AND document_id = ?',
          ).all(collection.id, doc.id) as Array<{ id: number }>;
          for (const { id } of old) {
            deleteFts.run(id);
            deleteVec?.run(rowid(id));
          }
          this.stmt('DELETE FROM chunks WHERE collection_id = ? AND document_id = ?').run(
            collection.id,
            doc.id,
          );
          chunkDelta -= existing.chunk_count;
          termDelta -= existing.term_count;
        } else {
          docDelta += 1;
        }
        const titleTerms = doc.title ? analyze(doc.title).join(' ') : '';
        const titleCount = titleTerms === '' ? 0 : titleTerms.split(' ').length;
        let docTerms = 0;
        const rows: Array<{ chunk: PreparedChunk; body: string; terms: number }> = chunks.map(
          (chunk) => {
            const terms = analyze(chunk.text);
            docTerms += terms.length + titleCount;
            return { chunk, body: terms.join(' '), terms: terms.length + titleCount };
          },
        );
        this.stmt(
          `INSERT INTO documents (collection_id, id, title, text, metadata, content_hash, chunk_count, term_count, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (collection_id, id) DO UPDATE SET title = excluded.title, text = excluded.text,
             metadata = excluded.metadata, content_hash = excluded.content_hash,
             chunk_count = excluded.chunk_count, term_count = excluded.term_count, updated_at = excluded.updated_at`,
        ).run(
          collection.id,
          doc.id,
          doc.title ?? null,
          doc.text,
          JSON.stringify(doc.metadata ?? {}),
          hash,
          chunks.length,
          docTerms,
          now,
        );
        const insertChunk = this.stmt(
          'INSERT INTO chunks (collection_id, document_id, chunk_index, text, start_offset, end_offset, tokens, term_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        );
        for (const { chunk, body, terms } of rows) {
          const { lastInsertRowid } = insertChunk.run(
            collection.id,
            doc.id,
            chunk.index,
            chunk.text,
            chunk.start,
            chunk.end,
            chunk.tokens,
            terms,
          );
          insertFts.run(lastInsertRowid, titleTerms, body);
          if (insertVec) {
            const vector = chunk.vector;
            if (!vector || vector.length !== dims) {
              throw new KeelError(
                'JOB_FAILED',
                `chunk ${chunk.index} of '${doc.id}' has ${vector ? `a ${vector.length}-dimensional vector` : 'no vector'}; collection '${collection.name}' needs ${dims}`,
              );
            }
            insertVec.run(rowid(lastInsertRowid), vectorBlob(vector));
          }
        }
        chunkDelta += chunks.length;
        termDelta += docTerms;
        results.push({
          id: doc.id,
          status: existing ? 'updated' : 'created',
          chunks: chunks.length,
        });
      }
      this.stmt(
        'UPDATE collections SET document_count = document_count + ?, chunk_count = chunk_count + ?, term_count = term_count + ?, updated_at = ? WHERE id = ?',
      ).run(docDelta, chunkDelta, termDelta, now, collection.id);
      return results;
    });
  }

  deleteDocument(collection: CollectionRow, id: string): boolean {
    const fts = ftsTable(collection.id);
    return transaction(this.db, () => {
      const existing = this.stmt(
        'SELECT chunk_count, term_count FROM documents WHERE collection_id = ? AND id = ?',
      ).get(collection.id, id) as { chunk_count: number; term_count: number } | undefined;
      if (!existing) return false;
      const old = this.stmt(
        'SELECT id FROM chunks WHERE collection_id = ? AND document_id = ?',
      ).all(collection.id, id) as Array<{ id: number }>;
      const deleteFts = this.db.prepare(`DELETE FROM ${fts} WHERE rowid = ?`);
      const current = this.getCollectionById(collection.id);
      const deleteVec = current?.embedding
        ? this.db.prepare(`DELETE FROM ${vecTable(collection.id)} WHERE rowid = ?`)
        : undefined;
      for (const row of old) {
        deleteFts.run(row.id);
        deleteVec?.run(rowid(row.id));
      }
      this.stmt('DELETE FROM chunks WHERE collection_id = ? AND document_id = ?').run(
        collection.id,
        id,
      );
      this.stmt('DELETE FROM documents WHERE collection_id = ? AND id = ?').run(collection.id, id);
      this.stmt(
        'UPDATE collections SET document_count = document_count - 1, chunk_count = chunk_count - ?, term_count = term_count - ?, updated_at = ? WHERE id = ?',
      ).run(existing.chunk_count, existing.term_count, new Date().toISOString(), collection.id);
      return true;
    });
  }

  getDocument(collectionId: number, id: string): StoredDocument | undefined {
    const row = this.stmt(
      'SELECT id, title, text, metadata, chunk_count, updated_at FROM documents WHERE collection_id = ? AND id = ?',
    ).get(collectionId, id) as
      | {
          id: string;
          title: string | null;
          text: string;
          metadata: string;
          chunk_count: number;
          updated_at: string;
        }
      | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      ...(row.title !== null ? { title: row.title } : {}),
      text: row.text,
      metadata: JSON.parse(row.metadata) as Metadata,
      chunks: row.chunk_count,
      updatedAt: row.updated_at,
    };
  }

  private getCollectionById(id: number): CollectionRow | undefined {
    const row = this.stmt('SELECT * FROM collections WHERE id = ?').get(id) as
      RawCollection | undefined;
    return row ? toCollection(row) : undefined;
  }

  // ---- search ----------------------------------------------------------------------------------

  /** BM25 over the collection's chunks; `terms` are the analyzed query terms used. */
  search(
    collectionId: number,
    query: string,
    options: SearchOptions,
  ): { hits: SearchHit[]; terms: string[] } {
    const terms = queryTerms(query);
    if (terms.length === 0) return { hits: [], terms };
    const ranked = this.rank(collectionId, ftsQuery(terms), options);
    return { hits: this.hydrate(ranked), terms };
  }

  /**
   * The best chunks as (id, score), best first. FTS5 keeps only the top `limit` while it scores
   * the matches. Grouped by document, the best chunk of each document is kept; when there are not
   * yet topK documents and more matches may exist, the limit doubles.
   */
  private rank(
    collectionId: number,
    match: string,
    options: SearchOptions,
  ): Array<{ id: number; score: number }> {
    const fts = ftsTable(collectionId);
    const bm25 = `bm25(${fts}, ${BM25_TITLE_WEIGHT}, 1.0)`;
    const filters = Object.entries(options.filter ?? {});
    const params: SQLInputValue[] = [match];
    let sql: string;
    if (filters.length === 0) {
      sql = `SELECT rowid AS id, ${bm25} AS rank FROM ${fts} WHERE ${fts} MATCH ? ORDER BY rank LIMIT ?`;
    } else {
      for (const [key, value] of filters) params.push(`$."${key}"`, bindable(value));
      sql = `SELECT m.rowid AS id, ${bm25} AS rank FROM ${fts} m
        JOIN chunks c ON c.id = m.rowid
        JOIN documents d ON d.collection_id = c.collection_id AND d.id = c.document_id
        WHERE ${fts} MATCH ? AND ${filters.map(() => 'json_extract(d.metadata, ?) = ?').join(' AND ')}
        ORDER BY rank LIMIT ?`;
    }
    const statement = this.stmt(sql);
    const grouped = options.group === 'document';
    let limit = grouped ? options.topK + 16 : options.topK;
    for (;;) {
      const rows = statement.all(...params, limit) as Array<{ id: number; rank: number }>;
      // FTS5's bm25() is negative, best first; Keel reports higher-is-better scores.
      if (!grouped) return rows.map((r) => ({ id: r.id, score: -r.rank }));
      const documents = this.documentsOf(rows.map((r) => r.id));
      const best = new Map<string, { id: number; score: number }>();
      for (const r of rows) {
        const doc = documents.get(r.id)!;
        if (!best.has(doc)) best.set(doc, { id: r.id, score: -r.rank });
      }
      if (best.size >= options.topK || rows.length < limit) {
        return [...best.values()].slice(0, options.topK);
      }
      limit *= 2;
    }
  }

  /**
   * Dense retrieval: the chunks nearest to `vector` by cosine similarity (exact search; sqlite-vec
   * scans the collection's vectors in C). With metadata filters, the scan joins the documents so
   * the filter applies before the top k is cut, not after. Scores are cosine similarities.
   */
  knn(collectionId: number, vector: readonly number[], options: SearchOptions): SearchHit[] {
    const c = this.getCollectionById(collectionId);
    if (!c?.embedding) {
      throw new KeelError(
        'DENSE_UNAVAILABLE',
        `collection '${c?.name ?? collectionId}' has no vectors (it was created without an embedding model)`,
      );
    }
    if (vector.length !== c.embedding.dimensions) {
      throw new KeelError(
        'VALIDATION_FAILED',
        `query vector has ${vector.length} dimensions; collection '${c.name}' has ${c.embedding.dimensions}`,
      );
    }
    const vec = vecTable(collectionId);
    const filters = Object.entries(options.filter ?? {});
    const blob = vectorBlob(vector);
    let statement: ReturnType<DatabaseSync['prepare']>;
    let params: (limit: number) => SQLInputValue[];
    if (filters.length === 0) {
      statement = this.stmt(
        `SELECT rowid AS id, distance FROM ${vec} WHERE embedding MATCH ? AND k = ? ORDER BY distance`,
      );
      // vec0's k is bounded (4096); a collection rarely needs more for one query.
      params = (limit) => [blob, Math.min(limit, 4_096)];
    } else {
      const where = filters.map(() => 'json_extract(d.metadata, ?) = ?').join(' AND ');
      const values: SQLInputValue[] = [];
      for (const [key, value] of filters) values.push(`$."${key}"`, bindable(value));
      statement = this.stmt(
        `SELECT v.rowid AS id, vec_distance_cosine(v.embedding, ?) AS distance FROM ${vec} v
         JOIN chunks ch ON ch.id = v.rowid
         JOIN documents d ON d.collection_id = ch.collection_id AND d.id = ch.document_id
         WHERE ${where} ORDER BY distance LIMIT ?`,
      );
      params = (limit) => [blob, ...values, limit];
    }
    const grouped = options.group === 'document';
    let limit = grouped ? options.topK + 16 : options.topK;
    for (;;) {
      const rows = statement.all(...params(limit)) as Array<{ id: number; distance: number }>;
      const scored = rows.map((r) => ({ id: Number(r.id), score: 1 - r.distance }));
      if (!grouped) return this.hydrate(scored);
      const documents = this.documentsOf(scored.map((r) => r.id));
      const best = new Map<string, { id: number; score: number }>();
      for (const r of scored) {
        const doc = documents.get(r.id)!;
        if (!best.has(doc)) best.set(doc, r);
      }
      if (best.size >= options.topK || rows.length < limit || limit >= 4_096) {
        return this.hydrate([...best.values()].slice(0, options.topK));
      }
      limit *= 2;
    }
  }

  private documentsOf(chunkIds: number[]): Map<number, string> {
    const rows = this.stmt(
      'SELECT c.id, c.document_id FROM json_each(?) j JOIN chunks c ON c.id = j.value',
    ).all(JSON.stringify(chunkIds)) as Array<{ id: number; document_id: string }>;
    return new Map(rows.map((r) => [r.id, r.document_id]));
  }

  /** Text, title and metadata of ranked chunks, in one statement. */
  private hydrate(ranked: Array<{ id: number; score: number }>): SearchHit[] {
    if (ranked.length === 0) return [];
    const rows = this.stmt(
      `SELECT c.id, c.document_id, c.chunk_index, c.text, d.title, d.metadata
       FROM json_each(?) j JOIN chunks c ON c.id = j.value
       JOIN documents d ON d.collection_id = c.collection_id AND d.id = c.document_id`,
    ).all(JSON.stringify(ranked.map((r) => r.id))) as Array<{
      id: number;
      document_id: string;
      chunk_index: number;
      text: string;
      title: string | null;
      metadata: string;
    }>;
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ranked.map(({ id, score }, i) => {
      const row = byId.get(id)!;
      return {
        id: `${row.document_id}#${row.chunk_index}`,
        documentId: row.document_id,
        chunkIndex: row.chunk_index,
        ...(row.title !== null ? { title: row.title } : {}),
        text: row.text,
        metadata: row.metadata === '{}' ? {} : (JSON.parse(row.metadata) as Metadata),
        score,
        rank: i + 1,
      };
    });
  }

  /** Ranking only (chunk ids and scores), for benchmarks against engines that return only ids. */
  rankOnly(
    collectionId: number,
    query: string,
    options: SearchOptions,
  ): Array<{ id: number; score: number }> {
    const terms = queryTerms(query);
    return terms.length === 0 ? [] : this.rank(collectionId, ftsQuery(terms), options);
  }

  /** Chunk count, average analyzed length and document frequency of the given terms. */
  stats(collectionId: number, terms: string[]): CorpusStats {
    const c = this.getCollectionById(collectionId);
    const documentFrequency: Record<string, number> = {};
    const s = this.stmt(`SELECT doc FROM ${ftsVocabTable(collectionId)} WHERE term = ?`);
    for (const term of terms) {
      const row = s.get(term) as { doc: number } | undefined;
      documentFrequency[term] = row?.doc ?? 0;
    }
    const documentCount = c?.chunkCount ?? 0;
    return {
      documentCount,
      averageLength: documentCount > 0 ? (c?.termCount ?? 0) / documentCount : 0,
      documentFrequency,
    };
  }
}
