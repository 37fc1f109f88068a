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
 * /readyz: ready while the pod delivers, is not draining, and has headroom. Readiness fails at
 * `readyMaxConnections` (below WS_MAX_CONNECTIONS), so the Service stops sending new clients
 * before the pod would refuse them with SERVER_FULL; clients already connected stay.
 */
export function readinessProbe(read: () => ReadinessState, readyMaxConnections: number): Probe {
  return () => {
    const state = read();
    const full = state.connections >= readyMaxConnections;
    return {
      ok: !state.draining && state.sequencerReady && state.delivering && !full,
      detail: { mode: state.mode, draining: state.draining, connections: state.connections, full },
    };
  };
}
