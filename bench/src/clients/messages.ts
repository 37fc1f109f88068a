/** IPC between the benchmark and its client worker processes (advanced serialization: typed arrays pass as is). */

/**
 * matchcast: the gateway's protocol over WebSocket (and the naive ws peer's); sse: the same
 * messages as the gateway's Server-Sent Events; socketio: Engine.IO v4 + Socket.IO v5 packets.
 */
export type WireProtocol = 'matchcast' | 'sse' | 'socketio';

export interface ConnectCommand {
  cmd: 'connect';
  url: string;
  protocol: WireProtocol;
  /** One entry per client: the channels it subscribes to. */
  channels: string[][];
  /** Source addresses (127.0.0.x) spread over, so one address's ephemeral ports are not the limit. */
  localAddresses: string[];
  concurrency: number;
  timeoutMs: number;
}

export interface CollectCommand {
  cmd: 'collect';
  /** For each stream written in the run: the first seq written and the commit time (ms) of each seq from there. */
  streams: string[];
  firstSeq: number[];
  commits: Float64Array[];
}

export type WorkerCommand = ConnectCommand | CollectCommand | { cmd: 'stats' } | { cmd: 'close' };

export interface Connected {
  type: 'connected';
  ok: number;
  failed: number;
  errors: string[];
}

export interface Progress {
  type: 'stats';
  /** Unique (first-time, in-order) event deliveries so far. */
  delivered: number;
  closed: number;
}

export interface Collected {
  type: 'collected';
  /** commit → receive latency of every recorded delivery, ms. */
  latencies: Float64Array;
  /** Per client (in ConnectCommand order): unique deliveries of events written in the run. */
  unique: Int32Array;
  firstReceiveMs: number;
  lastReceiveMs: number;
  /** A seq at or below one already received on the stream (duplicate or out of order). */
  duplicates: number;
  /** A seq more than one past the previous one received on the stream. */
  gaps: number;
  /** Deliveries of events the run did not write. */
  unexpected: number;
  /** Sampled deliveries whose full JSON.parse disagreed with the fast field scan (should be 0). */
  parseMismatches: number;
  /** Deliveries beyond the recording cap: counted, but without a latency. */
  unrecorded: number;
  closeCodes: Record<string, number>;
}

export type WorkerReply = Connected | Progress | Collected | { type: 'closed' } | { type: 'error'; message: string };
