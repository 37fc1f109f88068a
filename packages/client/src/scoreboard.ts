import type { MatchcastClient } from './client.js';
import { Emitter } from './emitter.js';
import type { StreamPositions } from './types.js';
import type { DeliveredMessage, MatchSnapshot, MatchesResponse } from './wire.js';

export interface ScoreboardOptions {
  /** Loads current state, e.g. `() => fetch('/api/matches').then((r) => r.json())`. */
  fetchSnapshot: () => Promise<MatchesResponse>;
  /** The channel to follow. Default `all`. */
  channel?: string;
}

export interface ScoreboardChange {
  match: MatchSnapshot;
  /** The event that changed it; undefined when the change came from a snapshot (load or reset). */
  event?: DeliveredMessage;
}

export interface Scoreboard {
  /** Resolves once the first snapshot is loaded and the channel subscribed. */
  readonly ready: Promise<void>;
  /** Current matches by id. */
  readonly matches: ReadonlyMap<string, MatchSnapshot>;
  get(matchId: string): MatchSnapshot | undefined;
  on(name: 'change', listener: (change: ScoreboardChange) => void): () => void;
  /**
   * Also applies the match events of another channel, e.g. `league:<id>` when something else
   * (a league table) subscribes it: each event arrives once, on the most specific channel the
   * connection has, so without this the league's match events would no longer reach the
   * scoreboard's `all`. Returns the function that stops it (closed with the scoreboard too).
   */
  follow(channel: string): () => void;
  /** Unsubscribes and stops handling resets (the client stays connected). */
  close(): void;
}

/**
 * A live scoreboard: loads GET /api/matches, seeds the client's positions with each
 * stream's seq (so no update falls between the snapshot and live delivery), applies
 * match_update / match_event / match_status / schedule_update (a deleted match leaves the
 * board), and reloads the snapshot on RESUME_TOO_OLD.
 */
export function createScoreboard(client: MatchcastClient, options: ScoreboardOptions): Scoreboard {
  const matches = new Map<string, MatchSnapshot>();
  const emitter = new Emitter<{ change: [ScoreboardChange] }>();
  let unsubscribe: (() => void) | undefined;
  const followed = new Map<string, () => void>();
  let closed = false;

  const load = async (): Promise<StreamPositions> => {
    const snapshot = await options.fetchSnapshot();
    const positions: StreamPositions = {};
    for (const { match, stream, seq } of snapshot.matches) {
      positions[stream] = seq;
      // A snapshot older than what was already applied must not roll the match back.
      const known = client.position(stream);
      if (known !== undefined && known > seq) continue;
      matches.set(match.match_id, match);
      emitter.emit('change', { match });
    }
    return positions;
  };

  const apply = (event: DeliveredMessage): void => {
    if (event.match_id === null) return;
    const previous = matches.get(event.match_id);
    let next: MatchSnapshot | undefined;
    if (event.type === 'schedule_update' && event.data.change === 'deleted') {
      // The match is gone: drop it (the event still tells listeners what it was).
      if (!matches.delete(event.match_id)) return;
      emitter.emit('change', { match: event.data as MatchSnapshot, event });
      return;
    }
    if (event.type === 'match_update' || event.type === 'match_event' || event.type === 'schedule_update') {
      // The snapshot only: what describes this one event (the goal, the schedule change) is not match state.
      const { event: _event, change: _change, old_kickoff_at: _ok, new_kickoff_at: _nk, old_status: _os, new_status: _ns, ...snapshot } =
        event.data as Record<string, unknown>;
      next = { ...previous, ...snapshot } as MatchSnapshot;
    } else if (event.type === 'match_status' && previous) {
      next = { ...previous, status: event.data.status as MatchSnapshot['status'] };
    }
    if (!next) return;
    matches.set(event.match_id, next);
    emitter.emit('change', { match: next, event });
  };

  const removeReset = client.addResetHandler(coalesced(() => (closed ? Promise.resolve({}) : load())));
  const ready = load().then((positions) => {
    if (closed) return;
    client.seed(positions);
    unsubscribe = client.subscribe(options.channel ?? 'all', apply);
  });

  return {
    ready,
    matches,
    get: (matchId) => matches.get(matchId),
    on: (name, listener) => emitter.on(name, listener),
    follow(channel) {
      if (closed) return () => undefined;
      if (!followed.has(channel)) followed.set(channel, client.subscribe(channel, apply));
      return () => {
        followed.get(channel)?.();
        followed.delete(channel);
      };
    },
    close() {
      closed = true;
      removeReset();
      unsubscribe?.();
      for (const stop of followed.values()) stop();
      followed.clear();
      emitter.clear();
    },
  };
}

/**
 * One snapshot reload for many resets: a reconnect after a long absence can bring a
 * RESUME_TOO_OLD for each of up to `maxResume` streams at once, and each would reload the whole
 * snapshot. Calls while a reload runs share the next one, started when it ends (a snapshot
 * requested before a stream's reset may predate what that stream needs): two reloads at most.
 */
function coalesced<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const current = run();
    running = current;
    const done = () => {
      if (running === current) running = undefined;
    };
    current.then(done, done);
    return current;
  };
  return () => {
    if (!running) return start();
    next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}

/**
 * A `fetchSnapshot` for `createScoreboard` using the global fetch: GET `<baseUrl>/api/matches`.
 * A request not answered within `timeoutMs` fails (a hung one would hold every later reload).
 */
export function httpSnapshot(baseUrl: string, query = '', timeoutMs = 20_000): () => Promise<MatchesResponse> {
  return async () => {
    const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/matches${query ? `?${query}` : ''}`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`GET /api/matches answered ${response.status}`);
    return (await response.json()) as MatchesResponse;
  };
}
