import type { BrokerMode } from './cluster';

/**
 * The runbook's failure drills (docs/operations.md: by-hand Tests 1–3, and a few more), as
 * data. Each is a list of steps run against a `Cluster`; the runner adds the workload around
 * them (clients subscribed to many streams while the crawler writes) and the zero-loss check
 * after.
 */

/**
 * A step. `mark` stamps the moment it happened: 'fault' at the start of the step that
 * injects it, 'repair' when the step that undoes it has finished (Redis answers again), and
 * 'outage' both, for a step that breaks and mends in one go (a restart).
 */
export type Mark = 'fault' | 'repair' | 'outage';

export type Step =
  | { do: 'killRedis' | 'stopRedis' | 'killListenerLeader' | 'stopListenerLeader'; mark?: 'fault' }
  | { do: 'startRedis' | 'resumeRedis' | 'restoreListeners'; mark?: 'repair' }
  | { do: 'freezeRedis'; forMs: number; mark?: 'fault' }
  | { do: 'restartPostgres'; mark?: 'outage' }
  | { do: 'stopGateway'; gateway: number; mark?: 'fault' }
  | { do: 'startGateway'; gateway: number; mark?: 'repair' }
  /** Commit one event on the probe match, which nothing else writes to (see ProbeWriter). */
  | { do: 'probe' }
  | { do: 'sleep'; ms: number }
  /** Wait until every gateway reports this mode (or fail after timeoutMs). */
  | { do: 'awaitMode'; mode: BrokerMode; timeoutMs: number };

/** Whether the scenario must, must not, or may make the gateways switch to Postgres. */
export type FallbackExpectation = 'required' | 'forbidden' | 'allowed';

export interface Scenario {
  name: string;
  title: string;
  /** Where it comes from: a by-hand runbook test, or another failure mode it does not cover. */
  origin: string;
  steps: Step[];
  fallback: FallbackExpectation;
  /** Bounds checked by the runner when the gateways do fall back (null: not checked). */
  limits: { fallbackMs: number | null; switchBackMs: number | null };
}

const FALLBACK_LIMIT_MS = 1500;
// Target: back on Redis ≤ 5 s after it returns.
const SWITCH_BACK_LIMIT_MS = 5000;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'redis-kill',
    title: 'redis-server SIGKILLed, back 3 s later',
    origin: 'runbook, Test 1 (Redis pod kill)',
    steps: [
      { do: 'killRedis', mark: 'fault' },
      { do: 'probe' },
      { do: 'sleep', ms: 3000 },
      { do: 'startRedis', mark: 'repair' },
      { do: 'awaitMode', mode: 'redis', timeoutMs: 20_000 },
    ],
    fallback: 'required',
    limits: { fallbackMs: FALLBACK_LIMIT_MS, switchBackMs: SWITCH_BACK_LIMIT_MS },
  },
  {
    name: 'redis-freeze',
    title: 'Redis frozen (SIGSTOP / CLIENT PAUSE) for 4 s, connections left open',
    origin: 'silent dead connections (no error event, only a missed heartbeat); runbook, Test 3',
    steps: [
      { do: 'freezeRedis', forMs: 4000, mark: 'fault' },
      { do: 'probe' },
      { do: 'sleep', ms: 4000 },
      { do: 'resumeRedis', mark: 'repair' },
      { do: 'awaitMode', mode: 'redis', timeoutMs: 20_000 },
    ],
    fallback: 'required',
    // Nothing breaks a frozen server's sockets: the missed heartbeat (1 s) is the only signal.
    limits: { fallbackMs: 2500, switchBackMs: SWITCH_BACK_LIMIT_MS },
  },
  {
    name: 'redis-outage',
    title: 'Redis down for 30 s (scaled to 0), then back',
    origin: 'runbook, Test 2 (node unavailability)',
    steps: [
      { do: 'stopRedis', mark: 'fault' },
      { do: 'probe' },
      { do: 'awaitMode', mode: 'postgres', timeoutMs: 10_000 },
      { do: 'sleep', ms: 30_000 },
      { do: 'probe' },
      { do: 'startRedis', mark: 'repair' },
      { do: 'awaitMode', mode: 'redis', timeoutMs: 20_000 },
    ],
    fallback: 'required',
    limits: { fallbackMs: FALLBACK_LIMIT_MS, switchBackMs: SWITCH_BACK_LIMIT_MS },
  },
  {
    name: 'listener-failover',
    title: 'notify-listener leader killed while a standby runs',
    origin: 'issue 3 item 3 (listener high availability)',
    steps: [
      { do: 'killListenerLeader', mark: 'fault' },
      // Committed while no listener leads: nobody publishes it, and nothing follows it.
      { do: 'probe' },
      { do: 'sleep', ms: 3000 },
      { do: 'awaitMode', mode: 'redis', timeoutMs: 20_000 },
      { do: 'restoreListeners' },
      { do: 'sleep', ms: 1000 },
    ],
    // Whether the gateways notice depends on the standby winning the lock within the heartbeat timeout.
    fallback: 'allowed',
    limits: { fallbackMs: 2500, switchBackMs: SWITCH_BACK_LIMIT_MS },
  },
  {
    name: 'listener-handover',
    title: 'notify-listener leader stopped (SIGTERM, as on a rollout or a pod deletion) while a standby runs',
    origin: 'issue 15 item 2 (deterministic leader handover)',
    steps: [
      { do: 'stopListenerLeader', mark: 'fault' },
      { do: 'probe' },
      { do: 'sleep', ms: 3000 },
      { do: 'restoreListeners' },
      { do: 'sleep', ms: 1000 },
    ],
    // The leader releases its lock and NOTIFYs the standbys on the way out: the new leader's
    // first heartbeat comes well within the gateways' heartbeat timeout, so none falls back.
    fallback: 'forbidden',
    limits: { fallbackMs: null, switchBackMs: null },
  },
  {
    name: 'postgres-restart',
    title: 'PostgreSQL restarted (fast shutdown, then start)',
    origin: 'issue 3 item 6e',
    steps: [
      { do: 'restartPostgres', mark: 'outage' },
      { do: 'probe' },
      // The listener's LISTEN connection died with the server: its heartbeat stops until it
      // reconnects (after LISTENER_RECONNECT_DELAY_MS, 5 s), and the gateways notice after ~1 s.
      { do: 'sleep', ms: 3000 },
      { do: 'awaitMode', mode: 'redis', timeoutMs: 30_000 },
      { do: 'sleep', ms: 1000 },
    ],
    fallback: 'allowed',
    // Switching back waits for the listener's reconnect backoff (LISTENER_RECONNECT_DELAY_MS).
    limits: { fallbackMs: 2500, switchBackMs: null },
  },
  {
    name: 'gateway-restart',
    title: 'a gateway restarted (SIGTERM drain, start again) while its clients reconnect with resume',
    origin: 'issue 3 item 4 (client resume)',
    steps: [
      { do: 'stopGateway', gateway: 0, mark: 'fault' },
      // Committed while the gateway is down: its clients get it only by resuming.
      { do: 'probe' },
      { do: 'startGateway', gateway: 0, mark: 'repair' },
      { do: 'awaitMode', mode: 'redis', timeoutMs: 20_000 },
      { do: 'sleep', ms: 1000 },
    ],
    fallback: 'forbidden',
    limits: { fallbackMs: null, switchBackMs: null },
  },
];

export function findScenario(name: string): Scenario {
  const scenario = SCENARIOS.find((candidate) => candidate.name === name);
  if (!scenario) {
    throw new Error(`unknown scenario "${name}"; one of: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return scenario;
}
