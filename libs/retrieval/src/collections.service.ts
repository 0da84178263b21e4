import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENCODING,
  KeelError,
  type CollectionDto,
  type CreateCollectionDto,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import type { CollectionRow, SqliteStore } from './processors.js';
import { STORE_READER } from './retrieval.tokens.js';

export function toCollectionDto(c: Omit<CollectionRow, 'termCount'>): CollectionDto {
  return {
    name: c.name,
    backend: 'sqlite',
    chunkSize: c.chunkSize,
    chunkOverlap: c.chunkOverlap,
    encoding: c.encoding,
    documentCount: c.documentCount,
    chunkCount: c.chunkCount,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

@Injectable()
export class CollectionsService {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly jobs: JobRunner,
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
    const created = await this.jobs.run(
      'ingest',
      'create-collection',
      {
        version: 1,
        name: dto.name,
        chunking: { chunkSize, chunkOverlap, encoding: dto.encoding ?? DEFAULT_ENCODING },
      },
      ctx,
    );
    return toCollectionDto(created);
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
