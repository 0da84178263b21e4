import { Inject, Injectable, Optional } from '@nestjs/common';
import { embeddingModelName, type EmbeddingClient } from '@keel/inference';
import {
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENCODING,
  KeelError,
  type CollectionDto,
  type CreateCollectionDto,
  type EmbeddingSpec,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import type { CollectionRow, SqliteStore } from './processors.js';
import { EMBEDDING_CLIENT, STORE_READER } from './retrieval.tokens.js';

export function toCollectionDto(c: Omit<CollectionRow, 'termCount'>): CollectionDto {
  return {
    name: c.name,
    backend: 'sqlite',
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

@Injectable()
export class CollectionsService {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly jobs: JobRunner,
    @Optional() @Inject(EMBEDDING_CLIENT) private readonly embeddings?: EmbeddingClient,
  ) {}

  list(): CollectionDto[] {
    return this.store.listCollections().map(toCollectionDto);
  }

  get(name: string): CollectionDto {
    return toCollectionDto(this.store.requireCollection(name));
  }

  /** The collection's internal row; 404 COLLECTION_NOT_FOUND when it does not exist. */
  require(name: string): CollectionRow {
    return this.store.requireCollection(name);
  }

  async create(dto: CreateCollectionDto, ctx: RequestContext): Promise<CollectionDto> {
    const chunkSize = dto.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const chunkOverlap = dto.chunkOverlap ?? Math.min(DEFAULT_CHUNK_OVERLAP, chunkSize - 1);
    if (chunkOverlap >= chunkSize) {
      throw new KeelError('VALIDATION_FAILED', 'chunkOverlap must be less than chunkSize', [
        { field: 'chunkOverlap', message: 'must be less than chunkSize' },
      ]);
    }
    if (dto.backend === 'opensearch') {
      throw new KeelError(
        'BACKEND_UNAVAILABLE',
        "backend 'opensearch' needs OPENSEARCH_URL; this deployment serves 'sqlite' only",
      );
    }
    const embedding = await this.embeddingFor(dto, ctx);
    const created = await this.jobs.run(
      'ingest',
      'create-collection',
      {
        version: 1,
        name: dto.name,
        chunking: { chunkSize, chunkOverlap, encoding: dto.encoding ?? DEFAULT_ENCODING },
        ...(embedding ? { embedding } : {}),
      },
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
