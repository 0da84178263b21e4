import { Controller, Get, Header, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import type { Response } from 'express';
import type { KeelWorker } from '@keel/jobs/distributed';
import { MetricsService } from '@keel/platform';

export const KEEL_WORKER = Symbol('KEEL_WORKER');

/** The worker's own port (STYLE.md #8, #9): liveness, readiness and metrics, nothing public. */
@Controller()
export class WorkerHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(KEEL_WORKER) private readonly worker: KeelWorker,
    private readonly metrics: MetricsService,
  ) {}

  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready: Redis connected, every queue's BullMQ worker running, every pool thread up. */
  @Get('health/ready')
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => {
          const { up, details } = this.worker.health();
          const indicator = this.indicators.check('worker');
          return up ? indicator.up(details) : indicator.down(details);
        },
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        res.status(503);
        return error.getResponse() as HealthCheckResult;
      }
      throw error;
    }
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.metrics.contentType);
    res.send(await this.metrics.render());
  }
}
