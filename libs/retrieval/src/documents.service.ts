import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  KeelError,
  type IngestDocumentsDto,
  type IngestResult,
  type JobRecord,
  type StoredDocumentDto,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { CollectionsService, refOf } from './collections.service.js';
import type { OpenSearchBackend } from './opensearch/opensearch-backend.js';
import type { SqliteStore } from './processors.js';
import { OPENSEARCH, STORE_READER } from './retrieval.tokens.js';

@Injectable()
export class DocumentsService {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly collections: CollectionsService,
    private readonly jobs: JobRunner,
    @Optional() @Inject(OPENSEARCH) private readonly opensearch?: OpenSearchBackend,
  ) {}

  /**
   * Accepts a batch for ingest. Everything that can be checked without chunking is checked here,
   * before the job exists, so a rejected batch stores nothing.
   */
  async ingest(
    collectionName: string,
    dto: IngestDocumentsDto,
    ctx: RequestContext,
    idempotencyKey?: string,
  ): Promise<JobRecord> {
    const collection = await this.collections.require(collectionName, ctx);
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
        collection: refOf(collection),
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
    if (done.state === 'completed') {
      const result = done.result as IngestResult;
      // Every changed document refused (a metadata type conflict, say): the request failed, and
      // nothing of it was stored.
      if (result.failed && result.failed === result.created + result.updated + result.failed) {
        const refused = result.documents.filter((d) => d.status === 'failed');
        const code = refused.every((d) => d.error?.code === 'METADATA_CONFLICT')
          ? 'METADATA_CONFLICT'
          : 'VALIDATION_FAILED';
        throw new KeelError(
          code,
          `no document of the batch was stored: ${refused[0]?.error?.message ?? 'refused'}`,
          refused.map((d) => ({ field: d.id, message: d.error?.message ?? 'refused' })),
        );
      }
      return { jobId: done.id, ...result };
    }
    if (done.error) throw KeelError.from(done.error);
    throw new KeelError('JOB_FAILED', `ingest job ${done.id} ended as ${done.state}`);
  }

  async get(collectionName: string, id: string, ctx: RequestContext): Promise<StoredDocumentDto> {
    const collection = await this.collections.require(collectionName, ctx);
    const doc =
      collection.backend === 'sqlite'
        ? this.store.getDocument(collection.id, id)
        : await this.opensearch!.getDocument(collection.name, id, {
            signal: ctx.signal,
            deadline: ctx.deadline,
          });
    if (!doc) {
      throw new KeelError('DOCUMENT_NOT_FOUND', `document '${id}' is not in '${collectionName}'`);
    }
    return { collection: collection.name, ...doc };
  }

  async delete(collectionName: string, id: string, ctx: RequestContext): Promise<void> {
    const collection = await this.collections.require(collectionName, ctx);
    const { deleted } =
      collection.backend === 'sqlite'
        ? await this.jobs.run(
            'ingest',
            'delete-document',
            { version: 1, collection: refOf(collection), documentId: id },
            ctx,
          )
        : {
            deleted: await this.opensearch!.deleteDocument(collection.name, id, {
              signal: ctx.signal,
              deadline: ctx.deadline,
            }),
          };
    if (!deleted) {
      throw new KeelError('DOCUMENT_NOT_FOUND', `document '${id}' is not in '${collectionName}'`);
    }
  }
}
