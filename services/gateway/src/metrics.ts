import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Gateway metrics. Labels come from small fixed sets only (never channel, user or connection). */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: 'matchcast_gateway_connections',
      help: 'Open client connections',
      labelNames: ['transport'] as const,
      registers,
    }),
    reconnectStorms: new Counter({
      name: 'matchcast_gateway_reconnect_storms_total',
      help: 'Times WebSocket or SSE streams opened in numbers (10 within 100 ms) and writes went out in slices so the loop kept accepting',
      registers,
    }),
    connectionsRejected: new Counter({
      name: 'matchcast_gateway_connections_rejected_total',
      help: 'Connections refused at the door',
      labelNames: ['code'] as const,
      registers,
    }),
    userCapFallbacks: new Counter({
      name: 'matchcast_gateway_user_cap_fallbacks_total',
      help: 'Per-user cap checks decided on this gateway\'s own count because Redis was down, slow (USER_CAP_REDIS_TIMEOUT_MS) or refused',
      registers,
    }),
    socketsDropped: new Counter({
      name: 'matchcast_gateway_sockets_dropped_total',
      help: 'TCP connections closed at accept because the client port held its most (WS_MAX_CONNECTIONS and half again, at least 1,000 more)',
      registers,
    }),
    delivered: new Counter({
      name: 'matchcast_gateway_messages_delivered_total',
      help: 'Event messages written to clients',
      registers,
    }),
    received: new Counter({
      name: 'matchcast_gateway_events_received_total',
      help: 'Events received from brokers, before dedup',
      labelNames: ['source'] as const,
      registers,
    }),
    duplicates: new Counter({
      name: 'matchcast_gateway_events_duplicate_total',
      help: 'Events dropped because their seq was already delivered',
      registers,
    }),
    gapsFilled: new Counter({
      name: 'matchcast_gateway_gap_fills_total',
      help: 'Outbox reads to fill a per-stream gap or fetch a large event',
      registers,
    }),
    skipped: new Counter({
      name: 'matchcast_gateway_events_skipped_total',
      help: 'Events that could not be read from the outbox (pruned) and were skipped',
      registers,
    }),
    undeliverable: new Counter({
      name: 'matchcast_gateway_events_undeliverable_total',
      help: 'Committed events skipped, never sent: data nested too deep to serialize, or a row the bus decoder refuses read by a gap fill or catch-up (a stream no channel names)',
      registers,
    }),
    outboxPrunedAt: new Gauge({
      name: 'matchcast_gateway_outbox_last_prune_timestamp_seconds',
      help: 'Unix time this gateway last finished an outbox prune round (holding the prune lock); 0 = never',
      registers,
    }),
    invalidMessages: new Counter({
      name: 'matchcast_gateway_invalid_messages_total',
      help: 'Bus messages dropped because they did not decode (events, heartbeats), by path',
      labelNames: ['source'] as const,
      registers,
    }),
    positionCheckRecoveries: new Counter({
      name: 'matchcast_gateway_position_check_recoveries_total',
      help: 'Streams the periodic position check found behind their committed head with no fill under way, and read from the outbox (events no path delivered)',
      registers,
    }),
    claimsBeyondHead: new Counter({
      name: 'matchcast_gateway_seq_claims_beyond_head_total',
      help: 'Notifications whose seq was beyond the stream head in the database (forged or corrupt); ignored',
      registers,
    }),
    untracked: new Counter({
      name: 'matchcast_gateway_untracked_events_total',
      help: 'Events of user streams no local client follows, dropped on arrival',
      registers,
    }),
    purchaseOwnerReads: new Counter({
      name: 'matchcast_gateway_purchase_owner_reads_total',
      help: 'Database reads of purchase buyers (one per subscribe, resume or SSE request naming purchases not cached)',
      registers,
    }),
    leagueAccessReads: new Counter({
      name: 'matchcast_gateway_league_access_reads_total',
      help: 'Database reads of league privacy and members (one per subscribe, resume or SSE request naming match, team or league channels not cached)',
      registers,
    }),
    replays: new Counter({
      name: 'matchcast_gateway_replays_total',
      help: 'Stream replays started for resuming clients (resume and since)',
      registers,
    }),
    resumeSource: new Counter({
      name: 'matchcast_gateway_resume_source_total',
      help: 'Resume replays (per stream) and since look-ups, by whether memory alone answered them or the outbox was read',
      labelNames: ['request', 'source'] as const,
      registers,
    }),
    outboxReads: new Counter({
      name: 'matchcast_gateway_outbox_reads_total',
      help: 'Queries sent to the outbox for resuming clients, by kind (a read shared by many clients counts once)',
      labelNames: ['query'] as const,
      registers,
    }),
    clientErrors: new Counter({
      name: 'matchcast_gateway_client_errors_total',
      help: 'Error messages sent to clients, by code',
      labelNames: ['code'] as const,
      registers,
    }),
    slowConsumers: new Counter({
      name: 'matchcast_gateway_slow_consumers_total',
      help: 'Clients cut off because their send buffer exceeded the limit',
      registers,
    }),
    brokerMode: new Gauge({
      name: 'matchcast_gateway_broker_mode',
      help: '1 for the broker mode in use (redis or postgres)',
      labelNames: ['mode'] as const,
      registers,
    }),
    brokerSwitches: new Counter({
      name: 'matchcast_gateway_broker_switches_total',
      help: 'Switches between broker modes',
      labelNames: ['to'] as const,
      registers,
    }),
    catchUpSeconds: new Histogram({
      name: 'matchcast_gateway_catch_up_duration_seconds',
      help: 'Time to catch up from the outbox after a (re)connect or mode switch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    commitToSendSeconds: new Histogram({
      name: 'matchcast_gateway_commit_to_send_seconds',
      help: 'From the event being written in Postgres to the gateway writing it to clients',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** The streams a gateway follows, read at scrape time: match streams always, user streams while a local client subscribes. */
export function trackedStreamsGauge(registry: Registry, read: () => { user: number; match: number }): Gauge<'kind'> {
  return new Gauge({
    name: 'matchcast_gateway_tracked_streams',
    help: 'Streams whose position this gateway keeps, by kind (user streams only while a local client follows them)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const counts = read();
      this.set({ kind: 'user' }, counts.user);
      this.set({ kind: 'match' }, counts.match);
    },
  });
}

/**
 * The delivery canary's metrics (canary/canary.ts). Names fixed for the alert rules and the
 * dashboard: matchcast_canary_*, registered only while the canary runs (CANARY_INTERVAL_MS > 0).
 */
export function createCanaryMetrics(registry: Registry) {
  const registers = [registry];
  const metrics = {
    latency: new Histogram({
      name: 'matchcast_canary_latency_seconds',
      help: "From sending the canary's committing statement to its event coming back to this gateway through the path in use",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'matchcast_canary_last_success_timestamp_seconds',
      help: 'Unix time of the last canary event that came back (0 until the first)',
      registers,
    }),
    failures: new Counter({
      name: 'matchcast_canary_failures_total',
      help: 'Canary probes that failed: write_failed (the commit failed) or timeout (committed, not back in CANARY_TIMEOUT_MS)',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
  // Both series exist from the start, so rate() and increase() see the first failure.
  for (const reason of ['write_failed', 'timeout'] as const) metrics.failures.inc({ reason }, 0);
  return metrics;
}

/** What the in-memory resume history holds, read at scrape time. */
export function memoryHistoryGauge(registry: Registry, read: () => { events: number; bytes: number; streams: number }): Gauge<'unit'> {
  return new Gauge({
    name: 'matchcast_gateway_memory_history',
    help: 'Recent events kept in memory for resumes: events, bytes (approximate) and streams',
    labelNames: ['unit'] as const,
    registers: [registry],
    collect() {
      const size = read();
      this.set({ unit: 'events' }, size.events);
      this.set({ unit: 'bytes' }, size.bytes);
      this.set({ unit: 'streams' }, size.streams);
    },
  });
}
