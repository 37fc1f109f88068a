/**
 * What a scenario needs from a running matchcast: faults to inject and things to observe.
 * Scenarios are written once against this interface; `LocalCluster` (tests/harness/scenarios)
 * drives processes on this machine and `KubernetesCluster` drives pods through the API server.
 */

export type BrokerMode = 'redis' | 'postgres';

/** Which process wrote a log line. */
export type Component = 'gateway' | 'notify-listener';

/** One parsed JSON log line (pino: `time` is ISO-8601, `msg` carries the operators' log wording). */
export interface LogRecord {
  /** The process or pod that wrote it (a gateway name, a pod name...). */
  source: string;
  /** Epoch milliseconds. */
  time: number;
  level: string;
  msg: string;
}

export interface GatewayState {
  name: string;
  /** Undefined while the gateway does not answer (restarting, or unreachable from here). */
  mode: BrokerMode | undefined;
}

export interface Cluster {
  /** 'local' or 'kubernetes', printed in the report. */
  readonly kind: string;
  /** Where the outbox is read to count what clients should have received. */
  readonly databaseUrl: string;
  /** WebSocket URLs clients connect to: one per gateway locally, the Service in Kubernetes. */
  clientUrls(): string[];

  // --- faults -----------------------------------------------------------------------------
  /** Crash Redis (SIGKILL / delete the pod with no grace period). */
  killRedis(): Promise<void>;
  /** Take Redis away until startRedis (SIGTERM / scale the workload to 0). */
  stopRedis(): Promise<void>;
  /** Bring Redis back after a kill or a stop; resolves once it answers again. */
  startRedis(): Promise<void>;
  /**
   * Freeze Redis with its connections open (SIGSTOP / CLIENT PAUSE). `plannedMs` is how long
   * the scenario keeps it frozen: a pause that cannot be lifted early is given that length.
   */
  freezeRedis(plannedMs: number): Promise<void>;
  /** Unfreeze (SIGCONT / wait for the pause to end). */
  resumeRedis(): Promise<void>;
  /** Kill the notify-listener that holds the leader lock; resolves with its listener id. */
  killListenerLeader(): Promise<string>;
  /** SIGTERM the leader (a planned stop: it releases its lock and a standby takes over); resolves with its listener id. */
  stopListenerLeader(): Promise<string>;
  /** Bring every listener back (restart killed ones / wait for the replacement pod). */
  restoreListeners(): Promise<void>;
  /** Restart PostgreSQL; resolves once it accepts connections again. */
  restartPostgres(): Promise<void>;
  /** SIGTERM one gateway (it drains: readiness fails, clients are closed with 1012); resolves once it is gone. */
  stopGateway(index: number): Promise<void>;
  /** Have that gateway run again (start it / wait for the replacement pod); resolves once it is ready. */
  startGateway(index: number): Promise<void>;

  // --- observers --------------------------------------------------------------------------
  gatewayStates(): Promise<GatewayState[]>;
  /** Log lines of every process of a component written at or after `sinceMs`. */
  logs(component: Component, sinceMs: number): Promise<LogRecord[]>;
}

/** Parses pino JSON lines; lines that are not JSON log records are skipped. */
export function parseLogLines(source: string, text: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of text.split('\n')) {
    const start = line.indexOf('{');
    if (start < 0) continue;
    let parsed: { time?: unknown; msg?: unknown; level?: unknown };
    try {
      parsed = JSON.parse(line.slice(start)) as typeof parsed;
    } catch {
      continue;
    }
    const time = typeof parsed.time === 'number' ? parsed.time : Date.parse(String(parsed.time));
    if (!Number.isFinite(time) || typeof parsed.msg !== 'string') continue;
    records.push({ source, time, level: String(parsed.level ?? ''), msg: parsed.msg });
  }
  return records;
}
