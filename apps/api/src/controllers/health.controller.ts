import { Controller, Get, Header, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import type { Response } from 'express';
import { JobRunner } from '@keel/jobs';
import { MetricsService } from '@keel/platform';
import { StoreHealthIndicator } from '@keel/retrieval';

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: StoreHealthIndicator,
    private readonly jobs: JobRunner,
    private readonly metrics: MetricsService,
  ) {}

  /** Liveness: the event loop answers. Nothing else, so a slow dependency never restarts a pod. */
  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the store answers and every pool thread is up and warm. */
  // Not Terminus's @HealthCheck(): it loads @nestjs/swagger from node_modules at run time (to
  // document itself), which costs more start-up than the rest of the API together.
  @Get('health/ready')
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    try {
      return await this.check();
    } catch (error) {
      // Terminus reports a down indicator as a 503 whose body says which one; keep that body.
      if (error instanceof ServiceUnavailableException) {
        res.status(503);
        return error.getResponse() as HealthCheckResult;
      }
      throw error;
    }
  }

  private check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.store.check('store'),
      async () => (await this.store.checkOpenSearch('opensearch')) ?? {},
      async () => {
        const pool = await this.jobs.health();
        const indicator = this.indicators.check('jobs');
        return pool.up ? indicator.up(pool.details) : indicator.down(pool.details);
      },
    ]);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.metrics.contentType);
    res.send(await this.metrics.render());
  }
}
