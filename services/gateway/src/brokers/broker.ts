import type { OutboxEvent, OutboxRef } from '@matchcast/protocol';

export type BrokerMode = 'redis' | 'postgres';

/** What a broker reports to the supervisor. Transport code never sees a broker. */
export interface BrokerListener {
  event(item: OutboxEvent | OutboxRef, mode: BrokerMode): void;
  /** The path (re)connected: anything published while it was down must be caught up. */
  ready(mode: BrokerMode): void;
  down(mode: BrokerMode, error: Error): void;
  /** A message on the bus that did not decode: counted and dropped, never thrown. */
  invalid(source: InvalidSource, error: unknown): void;
}

export type InvalidSource = 'redis' | 'heartbeat' | 'postgres';

/** One delivery path. Built by the composition root; the supervisor starts and closes it. */
export interface Broker {
  readonly mode: BrokerMode;
  /** Connects and reports to `listener` from then on. */
  start(listener: BrokerListener): void;
  /** Connected and proven live right now. */
  healthy(): boolean;
  close(): Promise<void>;
}
