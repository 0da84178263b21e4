import { Inject, Injectable, Optional } from '@nestjs/common';
import { embeddingModelName, type EmbeddingClient } from '@keel/inference';
import {
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENCODING,
  KeelError,
  type CollectionDto,
  type CollectionRef,
  type CreateCollectionDto,
  type EmbeddingSpec,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import type { OpenSearchBackend, OpenSearchCollection } from './opensearch/opensearch-backend.js';
import type { CollectionRow, SqliteStore } from './processors.js';
import { EMBEDDING_CLIENT, OPENSEARCH, STORE_READER } from './retrieval.tokens.js';

/** A collection on either backend, as the services see it. */
export type Collection =
  (CollectionRow & { backend: 'sqlite' }) | (OpenSearchCollection & { id: 0 });

export function refOf(collection: Collection): CollectionRef {
  return { id: collection.id, name: collection.name, backend: collection.backend };
}

export function toCollectionDto(
  c: Omit<CollectionRow, 'termCount' | 'id'> & { backend?: 'sqlite' | 'opensearch' },
): CollectionDto {
  return {
    name: c.name,
    backend: c.backend ?? 'sqlite',
    chunkSize: c.chunkSize,
    chunkOverlap: c.chunkOverlap,
    encoding: c.encoding,
    documentCount: c.documentCount,
    chunkCount: c.chunkCount,
    ...(c.embedding ? { embedding: c.embedding } : {}),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/** How long a pod trusts what it read of the OpenSearch catalog (other pods may change it). */
const CATALOG_TTL_MS = 2_000;

/**
 * Collections on both backends: the embedded store's own table, and with OPENSEARCH_URL the
 * catalog index every API pod shares. Names are unique across both.
 */
@Injectable()
export class CollectionsService {
  private readonly catalog = new Map<string, { value?: OpenSearchCollection; at: number }>();

  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly jobs: JobRunner,
    @Optional() @Inject(EMBEDDING_CLIENT) private readonly embeddings?: EmbeddingClient,
    @Optional() @Inject(OPENSEARCH) private readonly opensearch?: OpenSearchBackend,
  ) {}

  private async fromCatalog(
    name: string,
    ctx?: RequestContext,
  ): Promise<OpenSearchCollection | undefined> {
    if (!this.opensearch) return undefined;
    const cached = this.catalog.get(name);
    if (cached && Date.now() - cached.at < CATALOG_TTL_MS) return cached.value;
    const value = await this.opensearch.getCollection(
      name,
      ctx ? { signal: ctx.signal, deadline: ctx.deadline } : {},
    );
    this.catalog.set(name, { ...(value ? { value } : {}), at: Date.now() });
    return value;
  }

  async find(name: string, ctx?: RequestContext): Promise<Collection | undefined> {
    const row = this.store.getCollection(name);
    if (row) return { ...row, backend: 'sqlite' };
    const os = await this.fromCatalog(name, ctx);
    return os ? { ...os, id: 0 } : undefined;
  }

  /** The collection; 404 COLLECTION_NOT_FOUND when it does not exist on either backend. */
  async require(name: string, ctx?: RequestContext): Promise<Collection> {
    const found = await this.find(name, ctx);
    if (!found) throw new KeelError('COLLECTION_NOT_FOUND', `collection '${name}' does not exist`);
    return found;
  }

  async list(ctx?: RequestContext): Promise<CollectionDto[]> {
    const local = this.store.listCollections().map((c) => toCollectionDto(c));
    if (!this.opensearch) return local;
    const call = ctx ? { signal: ctx.signal, deadline: ctx.deadline } : {};
    const remote = await this.opensearch.listCollections(call);
    const withCounts = await Promise.all(
      remote.map(async (c) =>
        toCollectionDto({ ...c, ...(await this.opensearch!.counts(c.name, call)) }),
      ),
    );
    return [...local, ...withCounts].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  async get(name: string, ctx?: RequestContext): Promise<CollectionDto> {
    const c = await this.require(name, ctx);
    if (c.backend === 'sqlite') return toCollectionDto(c);
    const counts = await this.opensearch!.counts(c.name, {
      signal: ctx?.signal,
      deadline: ctx?.deadline,
    });
    return toCollectionDto({ ...c, ...counts });
  }

  async create(dto: CreateCollectionDto, ctx: RequestContext): Promise<CollectionDto> {
    const chunkSize = dto.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const chunkOverlap = dto.chunkOverlap ?? Math.min(DEFAULT_CHUNK_OVERLAP, chunkSize - 1);
    if (chunkOverlap >= chunkSize) {
      throw new KeelError('VALIDATION_FAILED', 'chunkOverlap must be less than chunkSize', [
        { field: 'chunkOverlap', message: 'must be less than chunkSize' },
      ]);
    }
    const backend = dto.backend ?? (this.opensearch ? 'opensearch' : 'sqlite');
    if (backend === 'opensearch' && !this.opensearch) {
      throw new KeelError(
        'BACKEND_UNAVAILABLE',
        "backend 'opensearch' needs OPENSEARCH_URL; this deployment serves 'sqlite' only",
        [{ field: 'backend', message: 'no OpenSearch cluster configured' }],
      );
    }
    if (await this.find(dto.name, ctx)) {
      throw new KeelError('COLLECTION_EXISTS', `collection '${dto.name}' already exists`);
    }
    const chunking = { chunkSize, chunkOverlap, encoding: dto.encoding ?? DEFAULT_ENCODING };
    const embedding = await this.embeddingFor(dto, ctx);
    if (backend === 'opensearch') {
      this.catalog.delete(dto.name);
      const created = await this.opensearch!.createCollection(dto.name, chunking, embedding, {
        signal: ctx.signal,
        deadline: ctx.deadline,
      });
      return toCollectionDto({ ...created, documentCount: 0, chunkCount: 0 });
    }
    const created = await this.jobs.run(
      'ingest',
      'create-collection',
      { version: 1, name: dto.name, chunking, ...(embedding ? { embedding } : {}) },
      ctx,
    );
    return toCollectionDto(created);
  }

  /**
   * The model and dimensions a new collection's vectors will have: with an embedding server
   * configured, vectors are on unless the request says `vectors: false`. The dimensions come from
   * config, or from one probe call to the server.
   */
  private async embeddingFor(
    dto: CreateCollectionDto,
    ctx: RequestContext,
  ): Promise<EmbeddingSpec | undefined> {
    if (dto.vectors === false) return undefined;
    const client = this.embeddings;
    if (!client) {
      if (dto.vectors === true) {
        throw new KeelError(
          'DENSE_UNAVAILABLE',
          'vectors need an embedding server; this deployment has none (EMBEDDINGS_URL)',
          [{ field: 'vectors', message: 'no embedding server configured' }],
        );
      }
      return undefined;
    }
    const dimensions =
      client.dimensions ??
      (
        await client.embed(['dimension probe'], {
          purpose: 'document',
          signal: ctx.signal,
          deadline: ctx.deadline,
        })
      )[0].length;
    return { model: embeddingModelName(client), dimensions };
  }

  async delete(name: string, ctx: RequestContext): Promise<void> {
    const collection = await this.require(name, ctx);
    if (collection.backend === 'opensearch') {
      this.catalog.delete(name);
      await this.opensearch!.deleteCollection(name, { signal: ctx.signal, deadline: ctx.deadline });
      this.catalog.delete(name);
      return;
    }
    const { deleted } = await this.jobs.run(
      'ingest',
      'delete-collection',
      { version: 1, name },
      ctx,
    );
    if (!deleted)
      throw new KeelError('COLLECTION_NOT_FOUND', `collection '${name}' does not exist`);
  }
}
