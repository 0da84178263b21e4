import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { STORE_READER } from './retrieval.tokens.js';
import type { SqliteStore } from './processors.js';

@Injectable()
export class StoreHealthIndicator {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly health: HealthIndicatorService,
  ) {}

  check(key = 'store'): HealthIndicatorResult {
    const indicator = this.health.check(key);
    try {
      const row = this.store.db
        .prepare(
          'SELECT sqlite_version() AS sqlite, vec_version() AS vec, (SELECT count(*) FROM collections) AS collections',
        )
        .get() as { sqlite: string; vec: string; collections: number };
      return indicator.up({ backend: 'sqlite', ...row });
    } catch (error) {
      return indicator.down({
        backend: 'sqlite',
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
