import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CrawlerErrorCodes } from './errors';
import { OP_NAMES } from './feed';

export type ErrorKind = 'transient' | 'rejected';

export interface CrawlerMetrics {
  /** Committed transactions by operation (a retried op counts once, when it commits). */
  readonly transactions: Counter<'op'>;
  /** transient = retried (connection lost, database down); rejected = skipped (bad data). */
  readonly errors: Counter<'kind'>;
  readonly duration: Histogram<'op'>;
  readonly http: HttpSourceMetrics;
  /** Unix time of the last commit: how far behind a stalled crawler is (the dashboard's crawler lag). */
  readonly lastCommit: Gauge;
}

/** The HTTP source's: what it asked, what it got, how long it waited, how far behind it is. */
export interface HttpSourceMetrics {
  /** Requests answered: modified (200), not_modified (304), error. */
  readonly polls: Counter<'result'>;
  /** Failed requests, rejected matches and dropped events, by the stable PROVIDER_* code. */
  readonly providerErrors: Counter<'code'>;
  /** Waits before a request: budget (our own), provider_quota (its headers), retry_after. */
  readonly rateLimitWaits: Counter<'reason'>;
  readonly rateLimitWaitSeconds: Counter<'reason'>;
  /** Provider regressions (status backwards, score down) held until the next poll repeats them. */
  readonly held: Counter<'field'>;
  /** From the provider's own "last updated" time to our COMMIT of the change. */
  readonly providerLag: Histogram<string>;
}

const POLL_RESULTS = ['modified', 'not_modified', 'error'] as const;
const WAIT_REASONS = ['budget', 'provider_quota', 'retry_after'] as const;

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
      help: 'Failed transaction attempts: transient (retried with backoff), rejected (skipped) or conflict (a snapshot for a match id stored with another league or other teams; skipped).',
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
    http: {
      polls: new Counter({
        name: 'matchcast_crawler_http_polls_total',
        help: 'HTTP source requests by result: modified (200), not_modified (304), error.',
        labelNames: ['result'],
        registers: [registry],
      }),
      providerErrors: new Counter({
        name: 'matchcast_crawler_http_errors_total',
        help: 'HTTP source failures (failed requests, rejected matches, dropped events) by stable PROVIDER_* code.',
        labelNames: ['code'],
        registers: [registry],
      }),
      rateLimitWaits: new Counter({
        name: 'matchcast_crawler_http_rate_limit_waits_total',
        help: 'Requests held back: budget (our own per-minute budget), provider_quota (its headers), retry_after.',
        labelNames: ['reason'],
        registers: [registry],
      }),
      rateLimitWaitSeconds: new Counter({
        name: 'matchcast_crawler_http_rate_limit_wait_seconds_total',
        help: 'Time spent waiting before requests, by reason.',
        labelNames: ['reason'],
        registers: [registry],
      }),
      held: new Counter({
        name: 'matchcast_crawler_regressions_held_total',
        help: 'Provider regressions (status backwards, score down) held until the next poll confirms them.',
        labelNames: ['field'],
        registers: [registry],
      }),
      providerLag: new Histogram({
        name: 'matchcast_crawler_provider_lag_seconds',
        help: "From the provider's last-updated time of a match to the commit of its change.",
        buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
        registers: [registry],
      }),
    },
    lastCommit: new Gauge({
      name: 'matchcast_crawler_last_commit_timestamp_seconds',
      help: 'Unix time the last feed operation committed; 0 = none yet',
      registers: [registry],
    }),
  };
  // Every series exists from the start, so rates and alerts see zeros rather than gaps.
  for (const op of OP_NAMES) metrics.transactions.inc({ op }, 0);
  for (const kind of ['transient', 'rejected', 'conflict'] as const) metrics.errors.inc({ kind }, 0);
  for (const result of POLL_RESULTS) metrics.http.polls.inc({ result }, 0);
  for (const code of Object.keys(CrawlerErrorCodes).filter((c) => c.startsWith('PROVIDER_'))) metrics.http.providerErrors.inc({ code }, 0);
  for (const reason of WAIT_REASONS) {
    metrics.http.rateLimitWaits.inc({ reason }, 0);
    metrics.http.rateLimitWaitSeconds.inc({ reason }, 0);
  }
  for (const field of ['status', 'score'] as const) metrics.http.held.inc({ field }, 0);
  return metrics;
}
