import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { OPENSEARCH, STORE_READER } from './retrieval.tokens.js';
import type { OpenSearchBackend } from './opensearch/opensearch-backend.js';
import type { SqliteStore } from './processors.js';

@Injectable()
export class StoreHealthIndicator {
  constructor(
    @Inject(STORE_READER) private readonly store: SqliteStore,
    private readonly health: HealthIndicatorService,
    @Optional() @Inject(OPENSEARCH) private readonly opensearch?: OpenSearchBackend,
  ) {}

  /** With OPENSEARCH_URL set: the cluster's health (red or unreachable is down). */
  async checkOpenSearch(key = 'opensearch'): Promise<HealthIndicatorResult | undefined> {
    if (!this.opensearch) return undefined;
    const indicator = this.health.check(key);
    const { up, details } = await this.opensearch.health({ deadline: Date.now() + 2_000 });
    return up ? indicator.up(details) : indicator.down(details);
  }

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
