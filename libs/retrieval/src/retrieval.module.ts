import { Inject, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { createEmbeddingClient, toEmbedFunction, type EmbeddingClient } from '@keel/inference';
import { KEEL_CONFIG, type KeelConfig } from '@keel/platform';
import { CollectionsService } from './collections.service.js';
import { DocumentsService } from './documents.service.js';
import { SqliteStore } from './processors.js';
import { RetrievalService } from './retrieval.service.js';
import { EMBEDDING_CLIENT, OPENSEARCH, QUERY_EMBEDDER, STORE_READER } from './retrieval.tokens.js';
import type { OpenSearchBackend } from './opensearch/opensearch-backend.js';
import { StoreHealthIndicator } from './store.health.js';

class StoreLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    @Optional() @Inject(OPENSEARCH) private readonly opensearch?: OpenSearchBackend,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.store.close();
    await this.opensearch?.close();
  }
}

@Module({
  imports: [TerminusModule],
  providers: [
    {
      provide: STORE_READER,
      inject: [KEEL_CONFIG],
      useFactory: (config: KeelConfig) => {
        const store = SqliteStore.open(config.dataDir);
        // Migrations run here, on the API thread, before any pool thread opens the file.
        store.migrate();
        return store;
      },
    },
    {
      provide: EMBEDDING_CLIENT,
      inject: [KEEL_CONFIG],
      useFactory: (config: KeelConfig): EmbeddingClient | undefined =>
        config.embeddings ? createEmbeddingClient(config.embeddings) : undefined,
    },
    {
      provide: QUERY_EMBEDDER,
      inject: [EMBEDDING_CLIENT],
      useFactory: (client: EmbeddingClient | undefined) =>
        client ? toEmbedFunction(client) : undefined,
    },
    {
      provide: OPENSEARCH,
      inject: [KEEL_CONFIG],
      // The client's modules load only when a cluster is configured (start-up of the default).
      useFactory: async (config: KeelConfig): Promise<OpenSearchBackend | undefined> => {
        if (!config.opensearch) return undefined;
        const { OpenSearchBackend } = await import('./opensearch/opensearch-backend.js');
        return new OpenSearchBackend(config.opensearch.url, {
          timeoutMs: config.opensearch.timeoutMs,
          replicas: config.opensearch.replicas,
        });
      },
    },
    StoreLifecycle,
    CollectionsService,
    DocumentsService,
    RetrievalService,
    StoreHealthIndicator,
  ],
  exports: [CollectionsService, DocumentsService, RetrievalService, StoreHealthIndicator],
})
export class RetrievalModule {}
