import { Counter, Histogram, type Registry } from 'prom-client';
import { OP_NAMES } from './feed';

export type ErrorKind = 'transient' | 'rejected';

export interface CrawlerMetrics {
  /** Committed transactions by operation (a retried op counts once, when it commits). */
  readonly transactions: Counter<'op'>;
  /** transient = retried (connection lost, database down); rejected = skipped (bad data). */
  readonly errors: Counter<'kind'>;
  readonly duration: Histogram<'op'>;
}

export function createCrawlerMetrics(registry: Registry): CrawlerMetrics {
  const metrics: CrawlerMetrics = {
    transactions: new Counter({
      name: 'matchcast_crawler_transactions_total',
      help: 'Feed operations committed, one transaction each, by operation.',
      labelNames: ['op'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'matchcast_crawler_errors_total',
      help: 'Failed transaction attempts: transient (retried with backoff) or rejected (skipped).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'matchcast_crawler_transaction_duration_seconds',
      help: 'Time from taking a pooled connection to COMMIT, per committed operation.',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
  // Every series exists from the start, so rates and alerts see zeros rather than gaps.
  for (const op of OP_NAMES) metrics.transactions.inc({ op }, 0);
  for (const kind of ['transient', 'rejected'] as const) metrics.errors.inc({ kind }, 0);
  return metrics;
}
