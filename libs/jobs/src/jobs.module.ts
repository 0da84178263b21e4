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
        options.runner
          ? { provide: JobRunner, useValue: options.runner }
          : {
              provide: JobRunner,
              inject: [KEEL_CONFIG, KEEL_RUNTIME, MetricsService],
              useFactory: (config: KeelConfig, runtime: RuntimeInfo, metrics: MetricsService) =>
                createPoolRunner(config, runtime, metrics.registry, options.threadFile),
            },
        JobRunnerLifecycle,
      ],
      exports: [JobRunner],
    };
  }
}
