import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { NOTIFICATION_KINDS, type NotificationKind } from './events';

/** The notifier's metrics; `type` is one of the seven notification kinds (a bounded set). */
export interface NotifierMetrics {
  readonly events: Counter<'type'>;
  readonly notifications: Counter;
  readonly batchDuration: Histogram;
  readonly pruned: Counter;
  /** Announcements the leader's rounds published or expired on time (API writes are not counted). */
  readonly announcements: Counter<'change'>;
  readonly leader: Gauge;
  readonly errors: Counter<'kind'>;
  /** Sets what the lag gauge reports: the outbox row being (or last) processed, or caught up. */
  setLagSource(createdAt: Date | undefined): void;
}

export function createNotifierMetrics(registry: Registry): NotifierMetrics {
  const registers = [registry];
  let lagSince: Date | undefined;
  const events = new Counter<'type'>({
    name: 'matchcast_notifier_events_total',
    help: 'Match events turned into notifications (every follower notified), by notification type',
    labelNames: ['type'],
    registers,
  });
  for (const kind of NOTIFICATION_KINDS) events.inc({ type: kind satisfies NotificationKind }, 0);
  // Computed at scrape time, so a stuck notifier shows a growing lag.
  new Gauge({
    name: 'matchcast_notifier_lag_seconds',
    help: 'Age of the outbox row being processed (now - its created_at); 0 when caught up',
    registers,
    collect() {
      this.set(lagSince ? Math.max(0, (Date.now() - lagSince.getTime()) / 1000) : 0);
    },
  });
  return {
    events,
    notifications: new Counter({
      name: 'matchcast_notifier_notifications_total',
      help: 'Notifications created (one per follower per match event or urgent announcement)',
      registers,
    }),
    batchDuration: new Histogram({
      name: 'matchcast_notifier_batch_seconds',
      help: 'Duration of one batch transaction: read followers, create their notifications, move the cursor, commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    pruned: new Counter({
      name: 'matchcast_notifier_pruned_total',
      help: 'Notifications removed by the cleanup (expired, past retention, or over the per-user cap)',
      registers,
    }),
    announcements: (() => {
      const counter = new Counter<'change'>({
        name: 'matchcast_notifier_announcements_total',
        help: 'Announcements published (starts_at reached) or expired (expires_at reached) by the leader',
        labelNames: ['change'],
        registers,
      });
      for (const change of ['published', 'expired']) counter.inc({ change }, 0);
      return counter;
    })(),
    leader: new Gauge({
      name: 'matchcast_notifier_leader',
      help: '1 while this notifier holds the leader lock and does the work',
      registers,
    }),
    errors: new Counter<'kind'>({
      name: 'matchcast_notifier_errors_total',
      help: 'Failed work: transient (retried with backoff) or rejected (the event is skipped and logged)',
      labelNames: ['kind'],
      registers,
    }),
    setLagSource(createdAt) {
      lagSince = createdAt;
    },
  };
}
