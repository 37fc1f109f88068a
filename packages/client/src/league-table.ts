import type { MatchcastClient } from './client.js';
import { Emitter } from './emitter.js';
import { timedFetch } from './timed-fetch.js';
import { MatchcastApiError } from './notifications.js';
import type { StreamPositions } from './types.js';
import type { DeliveredMessage, LeagueTableData, Ref, StandingRow } from './wire.js';
import type { StoreChange } from './store-change.js';

export interface LeagueTableOptions {
  /** Where the REST API is, e.g. `location.origin` (GET `<baseUrl>/api/leagues/<id>/table`). */
  baseUrl: string;
  leagueId: string;
  /** A token provider, sent as `Authorization: Bearer` when given (the table is public). */
  token?: () => string | Promise<string>;
  /** A request not answered within this many ms fails (the store's `ready` rejects, a reload is given up). Default 20000. */
  timeoutMs?: number;
  /** A fetch implementation; default the global one. */
  fetch?: typeof fetch;
}

export type LeagueTableChange = StoreChange;

export interface LeagueTable {
  /** Resolves once the first table is loaded and `league:<id>` subscribed. */
  readonly ready: Promise<void>;
  readonly league: Ref | undefined;
  /** The rows in position order. */
  readonly rows: readonly StandingRow[];
  /** The league stream's seq the rows are at. */
  readonly seq: number;
  on(name: 'change', listener: (change: LeagueTableChange) => void): () => void;
  /** Unsubscribes and stops handling resets (the client stays connected). */
  close(): void;
}

interface TableResponse extends LeagueTableData {
  stream_seq: number;
}

/**
 * A live league table: loads GET /api/leagues/{id}/table (the rows and the seq of the league's
 * stream `league:<id>` read with them), seeds the client with that seq and subscribes to
 * `league:<id>`, so every later `league_table` arrives exactly once and in order, across
 * reconnects. Each event carries the whole table, so applying one replaces the rows; on
 * RESUME_TOO_OLD the table is simply reloaded. Other events on the channel (the league's match
 * events) are left to whoever else subscribed it (see Scoreboard.follow).
 */
export function createLeagueTable(client: MatchcastClient, options: LeagueTableOptions): LeagueTable {
  const url = `${options.baseUrl.replace(/\/$/, '')}/api/leagues/${encodeURIComponent(options.leagueId)}/table`;
  const stream = `league:${options.leagueId}`;
  const fetchImpl = timedFetch('createLeagueTable', options.fetch, options.timeoutMs);
  const emitter = new Emitter<{ change: [LeagueTableChange] }>();
  let league: Ref | undefined;
  let rows: StandingRow[] = [];
  let seq = 0;
  let unsubscribe: (() => void) | undefined;
  let closed = false;

  /** `reset`: after RESUME_TOO_OLD the loaded table replaces whatever was shown. */
  const load = async (reset = false): Promise<StreamPositions> => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${await options.token()}`;
    const response = await fetchImpl(url, { headers });
    const body = (await response.json().catch(() => undefined)) as (TableResponse & { error?: unknown; message?: unknown }) | undefined;
    if (!response.ok || !body) {
      const code = typeof body?.error === 'string' ? body.error : `HTTP_${response.status}`;
      throw new MatchcastApiError(code, `GET /api/leagues/${options.leagueId}/table answered ${response.status}`, response.status);
    }
    if (closed) return {};
    // A reload older than what was already applied must not roll the table back.
    const known = client.position(stream);
    if (reset || known === undefined || body.stream_seq >= known) {
      ({ league, rows } = body);
      seq = body.stream_seq;
      emitter.emit('change', { cause: 'snapshot' });
    }
    return { [stream]: body.stream_seq };
  };

  const apply = (event: DeliveredMessage): void => {
    if (event.type !== 'league_table' || event.stream !== stream) return;
    const data = event.data as unknown as LeagueTableData;
    // Not a table (it carries the whole table, so nothing of it can be applied): ignored.
    if (!Array.isArray(data.rows) || typeof data.league !== 'object' || data.league === null) return;
    league = data.league;
    rows = data.rows;
    seq = event.seq;
    emitter.emit('change', { cause: 'event', event });
  };

  const removeReset = client.addResetHandler((reset) => (closed || reset !== stream ? undefined : load(true)));
  const ready = load().then((positions) => {
    if (closed) return;
    client.seed(positions);
    unsubscribe = client.subscribe(stream, apply);
  });

  return {
    ready,
    get league() {
      return league;
    },
    get rows() {
      return rows;
    },
    get seq() {
      return seq;
    },
    on: (name, listener) => emitter.on(name, listener),
    close() {
      closed = true;
      removeReset();
      unsubscribe?.();
      emitter.clear();
    },
  };
}
