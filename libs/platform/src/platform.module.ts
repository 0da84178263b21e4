import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { KEEL_CONFIG, type KeelConfig } from './config/keel-config.js';
import { LoggingModule } from './logging/logging.module.js';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { KEEL_RUNTIME, registerRuntimeMetrics, type RuntimeInfo } from './runtime-info.js';
import { JsonBodyMiddleware, RawJsonBodyMiddleware } from './http/body-parser.middleware.js';
import { RequestContextMiddleware } from './http/request-context.middleware.js';

export interface PlatformOptions {
  config: KeelConfig;
  runtime: RuntimeInfo;
  /** The process's Prometheus registry when it was made before Nest. */
  registry?: Registry;
}

/** Config, runtime sizing, logging and metrics: what every process of Keel needs first. */
@Global()
@Module({})
export class PlatformModule {
  static forRoot({ config, runtime, registry }: PlatformOptions): DynamicModule {
    return {
      module: PlatformModule,
      imports: [LoggingModule.forRoot(config)],
      providers: [
        { provide: KEEL_CONFIG, useValue: config },
        { provide: KEEL_RUNTIME, useValue: runtime },
        {
          provide: MetricsService,
          useFactory: () => {
            const metrics = new MetricsService(registry);
            registerRuntimeMetrics(metrics.registry, runtime);
            return metrics;
          },
        },
        HttpMetricsMiddleware,
        JsonBodyMiddleware,
        RawJsonBodyMiddleware,
        RequestContextMiddleware,
      ],
      exports: [
        KEEL_CONFIG,
        KEEL_RUNTIME,
        MetricsService,
        LoggingModule,
        HttpMetricsMiddleware,
        JsonBodyMiddleware,
        RawJsonBodyMiddleware,
        RequestContextMiddleware,
      ],
    };
  }
}
