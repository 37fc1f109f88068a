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
  /**
   * Where a client whose connection drops reconnects (WebSocket only), as @matchcast/client
   * does: after its jittered delay, subscribing again with `resume` (every stream seen) and
   * `since` (the newest event timestamp seen). Unset: a dropped client stays down.
   */
  fallbackUrl?: string;
}

/** The first seq of each stream the run writes: deliveries below it are counted apart (replayed history). */
export interface BaselineCommand {
  cmd: 'baseline';
  streams: string[];
  firstSeq: number[];
}

/** Per client that reconnected (in ConnectCommand order; NaN where it did not): when it lost and got back its stream. */
export interface Reconnects {
  type: 'reconnects';
  /** When the first connection closed (ms, nowMs clock). */
  closedAt: Float64Array;
  /** When the connection to the fallback URL opened (the WebSocket upgrade was answered). */
  openedAt: Float64Array;
  /** When the server said every replay of the resubscribe was done (`resumed`). */
  resumedAt: Float64Array;
  /** Connection attempts after the first, failures included. */
  attempts: number;
  /** Error messages received after reconnecting, by code (e.g. RESUME_TOO_OLD). */
  errors: Record<string, number>;
}

export interface CollectCommand {
  cmd: 'collect';
  /** For each stream written in the run: the first seq written and the commit time (ms) of each seq from there. */
  streams: string[];
  firstSeq: number[];
  commits: Float64Array[];
  /** Commit-time windows [from, to] (ms): the latencies of the deliveries of events committed in each come back apart. */
  windowsMs?: [number, number][];
}

export type WorkerCommand = ConnectCommand | CollectCommand | BaselineCommand | { cmd: 'stats' } | { cmd: 'reconnects' } | { cmd: 'close' };

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
  /** Per CollectCommand.windowsMs: the latencies of the events committed in that window. */
  windowLatencies: Float64Array[];
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
  /** Deliveries of seqs before the baseline's first seq (history a `since` replayed), not in `unique`. */
  early: number;
  /** Events a client never got: the sizes of the seq gaps it saw. */
  missed: number;
  closeCodes: Record<string, number>;
}

export type WorkerReply = Connected | Progress | Collected | Reconnects | { type: 'baselined' } | { type: 'closed' } | { type: 'error'; message: string };
