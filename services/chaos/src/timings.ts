import type { BrokerMode, LogRecord } from './cluster';

/** The gateway's log lines (docs/operations.md, "Expected log patterns", verbatim). */
export const GATEWAY_LINES = {
  switching: 'Switching to PostgreSQL direct LISTEN fallback mode',
  fallbackDone: 'Fallback to PostgreSQL direct LISTEN successful - realtime features recovered',
  restored: 'Redis connectivity restored, switching back to Redis mode',
  switchedBack: 'Switch back to Redis mode successful',
} as const;

/** The listener line a new leader writes. */
export const LISTENER_LEADER_LINE = 'leader lock acquired';

/** Per gateway: when it decided to fall back, when Postgres delivered, when it was back on Redis. */
export interface GatewayTimeline {
  gateway: string;
  fallbackMs: number | null;
  fallbackDeliveringMs: number | null;
  switchBackMs: number | null;
}

export interface Timings {
  /** Slowest gateway: fault → "Switching to PostgreSQL direct LISTEN fallback mode". */
  fallbackMs: number | null;
  /** Slowest gateway: fault → "Fallback to PostgreSQL direct LISTEN successful". */
  fallbackDeliveringMs: number | null;
  /** Slowest gateway: repair (or fault) → "Switch back to Redis mode successful". */
  switchBackMs: number | null;
  /** fault → a listener writes "leader lock acquired" (listener scenarios). */
  leaderTakeoverMs: number | null;
  gateways: GatewayTimeline[];
}

function firstAfter(records: readonly LogRecord[], msg: string, after: number): LogRecord | undefined {
  let found: LogRecord | undefined;
  for (const record of records) {
    if (record.msg === msg && record.time >= after && (!found || record.time < found.time)) found = record;
  }
  return found;
}

function maxOrNull(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : Math.max(...present);
}

/**
 * Reads fallback and recovery times from the log lines. Switch-back counts from the repair
 * mark (Redis answering again) when the scenario has one, otherwise from the fault.
 */
export function timingsFromLogs(
  gatewayLogs: readonly LogRecord[],
  listenerLogs: readonly LogRecord[],
  faultAt: number,
  repairAt: number | undefined,
): Timings {
  const bySource = new Map<string, LogRecord[]>();
  for (const record of gatewayLogs) {
    const list = bySource.get(record.source) ?? [];
    list.push(record);
    bySource.set(record.source, list);
  }
  const gateways: GatewayTimeline[] = [];
  for (const [gateway, records] of [...bySource].sort(([a], [b]) => a.localeCompare(b))) {
    const switching = firstAfter(records, GATEWAY_LINES.switching, faultAt);
    const done = switching ? firstAfter(records, GATEWAY_LINES.fallbackDone, switching.time) : undefined;
    const back = switching ? firstAfter(records, GATEWAY_LINES.switchedBack, switching.time) : undefined;
    gateways.push({
      gateway,
      fallbackMs: switching ? switching.time - faultAt : null,
      fallbackDeliveringMs: done ? done.time - faultAt : null,
      // A switch back before the repair (the listener case) counts as 0 after it.
      switchBackMs: back ? Math.max(0, back.time - (repairAt ?? faultAt)) : null,
    });
  }
  const takeover = firstAfter(listenerLogs, LISTENER_LEADER_LINE, faultAt);
  return {
    fallbackMs: maxOrNull(gateways.map((g) => g.fallbackMs)),
    fallbackDeliveringMs: maxOrNull(gateways.map((g) => g.fallbackDeliveringMs)),
    switchBackMs: maxOrNull(gateways.map((g) => g.switchBackMs)),
    leaderTakeoverMs: takeover ? takeover.time - faultAt : null,
    gateways,
  };
}

/** Mode changes seen by polling /readyz, as a cross-check of the log-based timings. */
export interface ModeChange {
  gateway: string;
  at: number;
  from: BrokerMode | undefined;
  to: BrokerMode | undefined;
}
