import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Pool } from 'pg';

/** The API's metrics. Labels come from small fixed sets only (route patterns, never ids or users). */
export function createApiMetrics(registry: Registry, db: Pool) {
  const registers = [registry];
  return {
    socketsDropped: new Counter({
      name: 'matchcast_api_sockets_dropped_total',
      help: 'TCP connections closed at accept because the REST port held API_MAX_CONNECTIONS',
      registers,
    }),
    requests: new Counter({
      name: 'matchcast_api_requests_total',
      help: 'Requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'matchcast_api_request_duration_seconds',
      help: 'Time from a request arriving to its answer being written, by method and route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    errors: new Counter({
      name: 'matchcast_api_errors_total',
      help: 'Error answers, by code',
      labelNames: ['code'] as const,
      registers,
    }),
    notificationsCreated: new Counter({
      name: 'matchcast_api_notifications_created_total',
      help: 'Notifications created through POST /api/notifications (idempotent replays not counted)',
      registers,
    }),
    dbUp: new Gauge({ name: 'matchcast_api_db_up', help: '1 while the periodic database check succeeds', registers }),
    pool: new Gauge({
      name: 'matchcast_api_db_pool_clients',
      help: 'Database pool clients: total, idle, and requests waiting for one',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.set({ state: 'total' }, db.totalCount);
        this.set({ state: 'idle' }, db.idleCount);
        this.set({ state: 'waiting' }, db.waitingCount);
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
