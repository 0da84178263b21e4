import {
  DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { AnyProcessor } from '@keel/contracts/jobs';
import {
  KEEL_CONFIG,
  KEEL_RUNTIME,
  MetricsService,
  type KeelConfig,
  type RuntimeInfo,
} from '@keel/platform';
import { createPoolRunner } from './embedded/index.js';
import { InlineQueuesJobRunner } from './inline-job-runner.js';
import { JobRunner } from './job-runner.js';
import { ProcessorRegistry } from './thread/index.js';

export interface JobsModuleOptions {
  /** The module pool threads load; it builds its handler from the same processor list. */
  threadFile: URL;
  /** Checked at boot: a job with no handler or two stops the process before it serves. */
  processors: readonly AnyProcessor[];
  /** A runner started before Nest (the server's path); else one is made here, not started. */
  runner?: JobRunner;
}

@Injectable()
class JobRunnerLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Jobs');

  constructor(
    @Inject(JobRunner) private readonly runner: JobRunner,
    @Inject(KEEL_CONFIG) private readonly config: KeelConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.runner.close(this.config.shutdownGraceMs);
    this.logger.log('job runner stopped');
  }
}

@Module({})
export class JobsModule {
  static forRoot(options: JobsModuleOptions): DynamicModule {
    ProcessorRegistry.from(options.processors);
    return {
      module: JobsModule,
      global: true,
      providers: [
        {
          provide: JobRunner,
          inject: [KEEL_CONFIG, KEEL_RUNTIME, MetricsService],
          useFactory: (config: KeelConfig, runtime: RuntimeInfo, metrics: MetricsService) => {
            const runner =
              options.runner ??
              createPoolRunner(config, runtime, metrics.registry, options.threadFile);
            if (config.diagnosticInlineQueues.length === 0) return runner;
            new Logger('Jobs').warn(
              `DIAGNOSTIC: jobs of ${config.diagnosticInlineQueues.join(', ')} run on the API event loop (KEEL_DIAGNOSTIC_INLINE_QUEUES); never in production`,
            );
            return new InlineQueuesJobRunner(
              runner,
              new Set(config.diagnosticInlineQueues),
              options.processors,
              config.dataDir,
            );
          },
        },
        JobRunnerLifecycle,
      ],
      exports: [JobRunner],
    };
  }
}
