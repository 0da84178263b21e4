import {
  DynamicModule,
  MiddlewareConsumer,
  Module,
  NestModule,
  RequestMethod,
} from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { AnyProcessor } from '@keel/contracts';
import type { Registry } from 'prom-client';
import { JobRunner, JobsModule } from '@keel/jobs';
import {
  HttpMetricsMiddleware,
  JsonBodyMiddleware,
  PlatformModule,
  RawJsonBodyMiddleware,
  RequestContextMiddleware,
  type KeelConfig,
  type RuntimeInfo,
} from '@keel/platform';
import { AgentModule } from '@keel/agent/module';
import { EvaluationModule } from '@keel/evaluation/module';
import { PipelineModule } from '@keel/pipeline';
import { RetrievalModule } from '@keel/retrieval';
import { AgentController } from './controllers/agent.controller.js';
import { CollectionsController } from './controllers/collections.controller.js';
import { DocumentsController } from './controllers/documents.controller.js';
import { EvaluationsController } from './controllers/evaluations.controller.js';
import { HealthController } from './controllers/health.controller.js';
import { JobsController } from './controllers/jobs.controller.js';
import { QueryController } from './controllers/query.controller.js';
import { ToolsController } from './controllers/tools.controller.js';
import { BODY_THREAD_FILE, BodyDecoder } from './body/body-decoder.js';
import { AdminGuard } from './http/admin.guard.js';

export interface ApiModuleOptions {
  config: KeelConfig;
  runtime: RuntimeInfo;
  threadFile: URL;
  /** The module of the thread that decodes large request bodies. */
  bodyThreadFile: URL;
  processors: readonly AnyProcessor[];
  version: string;
  /** A job pool started before Nest, with the registry its metrics are on. */
  pool?: { runner: JobRunner; registry: Registry };
}

/** The HTTP control API: controllers only; the work lives in the libs and the job pool. */
@Module({})
export class ApiModule implements NestModule {
  static forRoot(options: ApiModuleOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        PlatformModule.forRoot({
          config: options.config,
          runtime: options.runtime,
          ...(options.pool ? { registry: options.pool.registry } : {}),
        }),
        JobsModule.forRoot({
          threadFile: options.threadFile,
          processors: options.processors,
          ...(options.pool ? { runner: options.pool.runner } : {}),
        }),
        TerminusModule.forRoot({ logger: false }),
        RetrievalModule,
        PipelineModule,
        EvaluationModule.forRoot({ version: options.version }),
        AgentModule,
      ],
      controllers: [
        HealthController,
        CollectionsController,
        DocumentsController,
        JobsController,
        QueryController,
        EvaluationsController,
        ToolsController,
        AgentController,
      ],
      providers: [
        AdminGuard,
        BodyDecoder,
        { provide: BODY_THREAD_FILE, useValue: options.bodyThreadFile },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestContextMiddleware, HttpMetricsMiddleware).forRoutes('*path');
    // Documents, candidates and passages come in bodies of up to megabytes: their bytes go to
    // the body thread (see BodyDecoder), and the controllers decode them there.
    const raw = [
      { path: 'v1/collections/:name/documents', method: RequestMethod.POST },
      { path: 'v1/rerank', method: RequestMethod.POST },
      { path: 'v1/pack', method: RequestMethod.POST },
    ];
    consumer
      .apply(JsonBodyMiddleware)
      .exclude(...raw)
      .forRoutes('*path');
    consumer.apply(RawJsonBodyMiddleware).forRoutes(...raw);
  }
}
