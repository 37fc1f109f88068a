import type { MatchcastClient } from './client.js';
import { Emitter } from './emitter.js';
import { DEFAULT_ENDED_TTL_MS, DEFAULT_MAX_MATCHES, MatchRetention, type DropReason } from './match-retention.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, timedFetch } from './timed-fetch.js';
import type { StreamPositions } from './types.js';
import type { DeliveredMessage, MatchSnapshot, MatchesResponse } from './wire.js';

export interface ScoreboardOptions {
  /** Loads current state, e.g. `() => fetch('/api/matches').then((r) => r.json())`. */
  fetchSnapshot: () => Promise<MatchesResponse>;
  /** The channel to follow. Default `all`. */
  channel?: string;
  /**
   * How long a finished or cancelled match stays after its last change, in ms. Default
   * 3 hours; `Infinity` keeps them. Kept matches (see `keep`) stay regardless.
   */
  endedTtlMs?: number;
  /**
   * The most matches held besides kept ones. Default 500; `Infinity` for no bound. Past it the
   * oldest ended matches leave first, then the oldest by last change; kept ones never do.
   */
  maxMatches?: number;
}

export interface ScoreboardChange {
  match: MatchSnapshot;
  /** The event that changed it; undefined when the change came from a snapshot (load or reset) or a bound. */
  event?: DeliveredMessage;
  /**
   * Set when the match left the board (remove its row): `deleted` by a schedule_update,
   * `expired` (ended longer than `endedTtlMs`) or `limit` (over `maxMatches`). A match that
   * left for a bound comes back with its next event, which carries its whole state.
   */
  removed?: 'deleted' | DropReason;
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
  /**
   * Keeps a match on the board whatever its age or the board's size (a match the user follows),
   * until the returned function is called. `follow('match:<id>')` keeps that match too.
   */
  keep(matchId: string): () => void;
  /** Unsubscribes and stops handling resets (the client stays connected). */
  close(): void;
}

/**
 * A live scoreboard: loads GET /api/matches, seeds the client's positions with each
 * stream's seq (so no update falls between the snapshot and live delivery), applies
 * match_update / match_event / match_status / schedule_update (a deleted match leaves the
 * board), and reloads the snapshot on RESUME_TOO_OLD. It stays bounded on a page left open for
 * days: ended matches leave after `endedTtlMs`, and past `maxMatches` the oldest leave.
 */
export function createScoreboard(client: MatchcastClient, options: ScoreboardOptions): Scoreboard {
  const matches = new Map<string, MatchSnapshot>();
  const emitter = new Emitter<{ change: [ScoreboardChange] }>();
  const retention = new MatchRetention({ endedTtlMs: options.endedTtlMs ?? DEFAULT_ENDED_TTL_MS, maxMatches: options.maxMatches ?? DEFAULT_MAX_MATCHES });
  /**
   * Matches dropped for a bound → their stream's seq then: a reload whose snapshot of one is no
   * newer must not bring it back. At most `maxMatches` remembered (500 when that is Infinity; the
   * oldest forgotten first: one forgotten only comes back with a reload, and leaves again).
   */
  const dropped = new Map<string, number>();
  const rememberedMax = Number.isFinite(retention.limits.maxMatches) ? retention.limits.maxMatches : DEFAULT_MAX_MATCHES;
  let unsubscribe: (() => void) | undefined;
  const followed = new Map<string, () => void>();
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const put = (match: MatchSnapshot, event?: DeliveredMessage): void => {
    matches.set(match.match_id, match);
    dropped.delete(match.match_id);
    retention.touch(match.match_id, match.status, Date.now());
    emitter.emit('change', event ? { match, event } : { match });
  };

  /** Drops what the bounds say must go, and arms the timer for the next ended match's time. */
  const prune = (): void => {
    if (closed) return;
    for (const { matchId, reason } of retention.due(Date.now())) {
      const match = matches.get(matchId);
      matches.delete(matchId);
      retention.forget(matchId);
      const seq = client.position(streamOf(matchId));
      if (seq !== undefined) remember(matchId, seq);
      if (match) emitter.emit('change', { match, removed: reason });
    }
    armExpiry();
  };
  const remember = (matchId: string, seq: number): void => {
    dropped.delete(matchId);
    dropped.set(matchId, seq);
    if (dropped.size > rememberedMax) dropped.delete(dropped.keys().next().value!);
  };
  const armExpiry = (): void => {
    if (expiryTimer !== undefined || closed) return;
    const at = retention.nextExpiry();
    if (at === undefined) return;
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined;
      prune();
    }, Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())));
    // A Node process is not kept alive for a board's housekeeping.
    (expiryTimer as { unref?: () => void }).unref?.();
  };
  /** After a change: over the size, drop now; else only make sure the expiry timer runs. */
  const bound = (): void => (retention.overLimit ? prune() : armExpiry());

  const load = async (): Promise<StreamPositions> => {
    const snapshot = await options.fetchSnapshot();
    const positions: StreamPositions = {};
    for (const { match, stream, seq } of snapshot.matches) {
      positions[stream] = seq;
      // A snapshot older than what was already applied must not roll the match back.
      const known = client.position(stream);
      if (known !== undefined && known > seq) continue;
      // Nor count as a change (an ended match's time starting again) when it has none: the same seq.
      if (known === seq && matches.has(match.match_id)) continue;
      // Nor bring back a match that left for a bound and has not changed since.
      const left = dropped.get(match.match_id);
      if (left !== undefined && seq <= left) continue;
      put(match);
    }
    bound();
    return positions;
  };

  const apply = (event: DeliveredMessage): void => {
    if (event.match_id === null) return;
    const previous = matches.get(event.match_id);
    if (event.type === 'schedule_update' && event.data.change === 'deleted') {
      // The match is gone: drop it (the event still tells listeners what it was).
      dropped.delete(event.match_id);
      if (!matches.delete(event.match_id)) return;
      retention.forget(event.match_id);
      emitter.emit('change', { match: event.data as MatchSnapshot, event, removed: 'deleted' });
      return;
    }
    if (!MATCH_EVENTS.has(event.type)) return;
    // Every match event carries the whole match state (with what describes this one event —
    // the goal, the schedule change, the old status — which is not match state).
    const { event: _event, change: _change, old_kickoff_at: _ok, new_kickoff_at: _nk, old_status: _os, new_status: _ns, match_date: _md, ...snapshot } =
      event.data as Record<string, unknown>;
    // A match not on the board (new, or dropped for a bound) comes back only with its whole state.
    if (!previous && !isWholeMatch(snapshot, event.match_id)) return;
    put({ ...previous, ...snapshot } as MatchSnapshot, event);
    bound();
  };

  const removeReset = client.addResetHandler(coalesced(() => (closed ? Promise.resolve({}) : load())));
  const ready = load().then((positions) => {
    if (closed) return;
    client.seed(positions);
    unsubscribe = client.subscribe(options.channel ?? 'all', apply);
  });

  /** A kept match released may be one the bounds now let go. */
  const keep = (matchId: string): (() => void) => {
    const release = retention.keep(matchId);
    return () => {
      release();
      if (!retention.isKept(matchId)) prune();
    };
  };

  return {
    ready,
    matches,
    get: (matchId) => matches.get(matchId),
    on: (name, listener) => emitter.on(name, listener),
    follow(channel) {
      if (closed) return () => undefined;
      if (!followed.has(channel)) {
        const stop = client.subscribe(channel, apply);
        const matchId = channel.startsWith('match:') ? channel.slice('match:'.length).split('/')[0]! : undefined;
        const release = matchId === undefined ? undefined : keep(matchId);
        followed.set(channel, () => (stop(), release?.()));
      }
      return () => {
        followed.get(channel)?.();
        followed.delete(channel);
      };
    },
    keep: (matchId) => (closed ? () => undefined : keep(matchId)),
    close() {
      closed = true;
      removeReset();
      unsubscribe?.();
      for (const stop of followed.values()) stop();
      followed.clear();
      clearTimeout(expiryTimer);
      expiryTimer = undefined;
      emitter.clear();
    },
  };
}

const MATCH_EVENTS = new Set(['match_update', 'match_event', 'match_status', 'schedule_update']);

/** A match's stream (the protocol's `match:<id>`). */
function streamOf(matchId: string): string {
  return `match:${matchId}`;
}

/** Whether an event's data is a whole match (what a row needs), not a fragment. */
function isWholeMatch(data: Record<string, unknown>, matchId: string): boolean {
  const isRef = (value: unknown) => typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>).id === 'string';
  const score = data.score as Record<string, unknown> | undefined;
  return (
    data.match_id === matchId &&
    typeof data.status === 'string' &&
    typeof data.minute === 'number' &&
    typeof score === 'object' && score !== null && typeof score.home === 'number' && typeof score.away === 'number' &&
    isRef(data.home_team) && isRef(data.away_team) && isRef(data.league) &&
    typeof data.kickoff_at === 'string'
  );
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
export function httpSnapshot(baseUrl: string, query = '', timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): () => Promise<MatchesResponse> {
  const fetchTimed = timedFetch('httpSnapshot', undefined, timeoutMs);
  return async () => {
    const response = await fetchTimed(`${baseUrl.replace(/\/$/, '')}/api/matches${query ? `?${query}` : ''}`);
    if (!response.ok) throw new Error(`GET /api/matches answered ${response.status}`);
    return (await response.json()) as MatchesResponse;
  };
}
