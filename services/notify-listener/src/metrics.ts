import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The listener's own metrics; no per-channel or per-stream labels (bounded sets only). */
export interface ListenerMetrics {
  readonly received: Counter;
  readonly invalid: Counter;
  readonly forwarded: Counter;
  readonly publishFailures: Counter;
  readonly publishDuration: Histogram;
  readonly heartbeats: Counter;
  readonly leader: Gauge;
  readonly redisUp: Gauge;
  readonly pgUp: Gauge;
  readonly pgLosses: Counter;
}

export function createListenerMetrics(registry: Registry): ListenerMetrics {
  const registers = [registry];
  return {
    received: new Counter({
      name: 'matchcast_listener_notifications_received_total',
      help: 'Postgres notifications received on the LISTEN connection',
      registers,
    }),
    invalid: new Counter({
      name: 'matchcast_listener_invalid_notifications_total',
      help: 'Notifications whose payload is not an outbox event; dropped, not forwarded',
      registers,
    }),
    forwarded: new Counter({
      name: 'matchcast_listener_notifications_forwarded_total',
      help: 'Notifications published to Redis and acknowledged',
      registers,
    }),
    publishFailures: new Counter({
      name: 'matchcast_listener_publish_failures_total',
      help: 'Notifications that could not be published (dropped, never queued; gateways fill the gap from the outbox)',
      registers,
    }),
    publishDuration: new Histogram({
      name: 'matchcast_listener_publish_duration_seconds',
      help: 'Time from receiving a notification to Redis acknowledging its PUBLISH',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    heartbeats: new Counter({
      name: 'matchcast_listener_heartbeats_published_total',
      help: 'Heartbeats published to Redis',
      registers,
    }),
    leader: new Gauge({
      name: 'matchcast_listener_leader',
      help: '1 while this listener holds the leader lock and LISTENs',
      registers,
    }),
    redisUp: new Gauge({ name: 'matchcast_listener_redis_up', help: '1 while the Redis publisher connection is ready', registers }),
    pgUp: new Gauge({
      name: 'matchcast_listener_pg_up',
      help: '1 while the Postgres connection is up (leader or standby)',
      registers,
    }),
    pgLosses: new Counter({
      name: 'matchcast_listener_pg_connection_losses_total',
      help: 'Times the Postgres LISTEN connection was lost (reconnects follow by themselves)',
      registers,
    }),
  };
}
