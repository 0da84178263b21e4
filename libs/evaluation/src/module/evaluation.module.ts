import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { KEEL_CONFIG, type KeelConfig } from '@keel/platform';
import { RetrievalModule } from '@keel/retrieval';
import { EvaluationStore } from '../store.js';
import { EvaluationsService } from './evaluations.service.js';
import { EVALUATION_STORE, KEEL_VERSION } from './evaluation.tokens.js';
import { RunEvaluation } from './run-evaluation.js';

class EvaluationStoreLifecycle implements OnApplicationShutdown {
  constructor(@Inject(EVALUATION_STORE) private readonly store: EvaluationStore) {}

  onApplicationShutdown(): void {
    this.store.close();
  }
}

/** Evaluations over HTTP: runs go to the `eval` queue; reports are read from the store. */
@Module({})
export class EvaluationModule {
  static forRoot(options: { version: string }): DynamicModule {
    return {
      module: EvaluationModule,
      imports: [RetrievalModule],
      providers: [
        { provide: KEEL_VERSION, useValue: options.version },
        {
          provide: EVALUATION_STORE,
          inject: [KEEL_CONFIG],
          // Opening migrates, here on the API thread, before an eval job opens the table.
          useFactory: (config: KeelConfig) => EvaluationStore.open(config.dataDir),
        },
        EvaluationStoreLifecycle,
        RunEvaluation,
        EvaluationsService,
      ],
      exports: [RunEvaluation, EvaluationsService],
    };
  }
}
