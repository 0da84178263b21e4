import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { KEEL_CONFIG, type KeelConfig } from '@keel/platform';
import { CollectionsService } from './collections.service.js';
import { DocumentsService } from './documents.service.js';
import { SqliteStore } from './processors.js';
import { RetrievalService } from './retrieval.service.js';
import { STORE_READER } from './retrieval.tokens.js';
import { StoreHealthIndicator } from './store.health.js';

class StoreLifecycle implements OnApplicationShutdown {
  constructor(@Inject(STORE_READER) private readonly store: SqliteStore) {}

  onApplicationShutdown(): void {
    this.store.close();
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
    StoreLifecycle,
    CollectionsService,
    DocumentsService,
    RetrievalService,
    StoreHealthIndicator,
  ],
  exports: [CollectionsService, DocumentsService, RetrievalService, StoreHealthIndicator],
})
export class RetrievalModule {}
