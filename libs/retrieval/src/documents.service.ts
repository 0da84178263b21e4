import { Inject, Injectable } from '@nestjs/common';
import {
  KeelError,
  type IngestDocumentsDto,
  type IngestResult,
  type JobRecord,
  type StoredDocumentDto,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { CollectionsService } from './collections.service.js';
import type { SqliteStore } from './processors.js';
import { STORE_READER } from './retrieval.tokens.js';

@Injectable()
export class DocumentsService {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly collections: CollectionsService,
    private readonly jobs: JobRunner,
  ) {}

  /**
   * Accepts a batch for ingest. Everything that can be checked without chunking is checked here,
   * before the job exists, so a rejected batch stores nothing.
   */
  ingest(
    collectionName: string,
    dto: IngestDocumentsDto,
    ctx: RequestContext,
    idempotencyKey?: string,
  ): Promise<JobRecord> {
    const collection = this.collections.require(collectionName);
    const seen = new Map<string, number>();
    for (const [index, doc] of dto.documents.entries()) {
      const first = seen.get(doc.id);
      if (first !== undefined) {
        throw new KeelError(
          'DUPLICATE_DOCUMENT_ID',
          `documents[${index}].id '${doc.id}' repeats documents[${first}].id`,
          [{ field: `documents[${index}].id`, message: `repeats documents[${first}].id` }],
        );
      }
      seen.set(doc.id, index);
    }
    return this.jobs.enqueue(
      'ingest',
      'ingest-documents',
      {
        version: 1,
        collection: { id: collection.id, name: collection.name },
        chunking: {
          chunkSize: collection.chunkSize,
          chunkOverlap: collection.chunkOverlap,
          encoding: collection.encoding,
        },
        documents: dto.documents.map((d) => ({
          id: d.id,
          text: d.text,
          ...(d.title !== undefined ? { title: d.title } : {}),
          ...(d.metadata !== undefined ? { metadata: d.metadata } : {}),
        })),
      },
      { requestId: ctx.requestId, ...(idempotencyKey ? { idempotencyKey } : {}) },
    );
  }

  /** Waits for an ingest job and returns its result, or its error as the request's error. */
  async result(job: JobRecord, ctx: RequestContext): Promise<IngestResult & { jobId: string }> {
    const done = await this.jobs.wait(job.id, ctx.signal);
    if (done.state === 'completed') return { jobId: done.id, ...(done.result as IngestResult) };
    if (done.error) throw KeelError.from(done.error);
    throw new KeelError('JOB_FAILED', `ingest job ${done.id} ended as ${done.state}`);
  }

  get(collectionName: string, id: string): StoredDocumentDto {
    const collection = this.collections.require(collectionName);
    const doc = this.store.getDocument(collection.id, id);
    if (!doc) {
      throw new KeelError('DOCUMENT_NOT_FOUND', `document '${id}' is not in '${collectionName}'`);
    }
    return { collection: collection.name, ...doc };
  }

  async delete(collectionName: string, id: string, ctx: RequestContext): Promise<void> {
    const collection = this.collections.require(collectionName);
    const { deleted } = await this.jobs.run(
      'ingest',
      'delete-document',
      { version: 1, collection: { id: collection.id, name: collection.name }, documentId: id },
      ctx,
    );
    if (!deleted) {
      throw new KeelError('DOCUMENT_NOT_FOUND', `document '${id}' is not in '${collectionName}'`);
    }
  }
}
