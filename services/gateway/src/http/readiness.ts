import type { Probe } from '@matchcast/runtime';
import type { BrokerMode } from '../brokers/broker';

/** What readiness looks at, read fresh on every probe. */
export interface ReadinessState {
  draining: boolean;
  /** The sequencer has read the stream heads it needs to deliver. */
  sequencerReady: boolean;
  /** Some broker path (Redis or the pod's own LISTEN) delivers events. */
  delivering: boolean;
  mode: BrokerMode;
  connections: number;
}

/**
 * How long a pod that was delivering stays ready while no path delivers: a switch between paths
 * (a lost heartbeat, then the pod's own LISTEN connecting) takes ~0.1 s and loses nothing (the
 * catch-up follows), so it must not take the pod out of its Service; a pod whose every path
 * stays down (Postgres unreachable too) fails readiness after this.
 */
export const SWITCH_GRACE_MS = 5000;

/**
 * /readyz: ready while the pod delivers (or is switching paths), is not draining, and has
 * headroom. Readiness fails at `readyMaxConnections` (below WS_MAX_CONNECTIONS), so the Service
 * stops sending new clients before the pod would refuse them with SERVER_FULL; clients already
 * connected stay.
 */
export function readinessProbe(read: () => ReadinessState, readyMaxConnections: number, now: () => number = Date.now): Probe {
  let lastDeliveringAt: number | undefined;
  return () => {
    const state = read();
    if (state.delivering) lastDeliveringAt = now();
    const switching = !state.delivering && lastDeliveringAt !== undefined && now() - lastDeliveringAt < SWITCH_GRACE_MS;
    const full = state.connections >= readyMaxConnections;
    return {
      ok: !state.draining && state.sequencerReady && (state.delivering || switching) && !full,
      detail: { mode: state.mode, draining: state.draining, connections: state.connections, full, switching },
    };
  };
}
