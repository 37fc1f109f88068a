import type { MatchcastClient } from './client.js';
import { Emitter } from './emitter.js';
import { timedFetch } from './timed-fetch.js';
import { MatchcastApiError } from './notifications.js';
import type { AnnouncementData, DeliveredMessage } from './wire.js';
import type { StoreChange } from './store-change.js';

export type AnnouncementTarget = { target: 'everyone' } | { target: 'league' | 'team' | 'match'; targetId: string };

export type AnnouncementsOptions = AnnouncementTarget & {
  /** Where the REST API is, e.g. `location.origin` (GET `<baseUrl>/api/announcements?target=…`). */
  baseUrl: string;
  /** A token provider, sent as `Authorization: Bearer` when given (the list is public). */
  token?: () => string | Promise<string>;
  /**
   * The channel to take the events from; default the target's stream. A match's announcements
   * also go out on its league's channel (and `all`), so a page that follows `league:<id>` for
   * the scores takes them there instead of moving the match's events onto `match:<id>`.
   */
  channel?: string;
  /**
   * The most held, the most urgent then newest (as the API lists them): 1 to 100, default 100,
   * the API's most. Live announcements beyond it push the least urgent, oldest out.
   */
  limit?: number;
  /** A request not answered within this many ms fails (the store's `ready` rejects, a reload is given up). Default 20000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
};

/** The most active announcements `GET /api/announcements` lists (and its default). */
export const MAX_ANNOUNCEMENTS = 100;

export type AnnouncementsChange = StoreChange;

export interface Announcements {
  /** Resolves once the first list is loaded and the target's stream subscribed. */
  readonly ready: Promise<void>;
  /** The target's stream: `all`, `league:<id>`, `team:<id>` or `match:<id>`. */
  readonly stream: string;
  /** The active ones, most urgent first, then newest. */
  readonly items: readonly AnnouncementData[];
  /** The stream's seq the list is at. */
  readonly seq: number;
  on(name: 'change', listener: (change: AnnouncementsChange) => void): () => void;
  close(): void;
}

const ANNOUNCEMENT_TYPES = new Set(['announcement', 'announcement_updated', 'announcement_expired']);
const PRIORITY_RANK: Record<string, number> = { urgent: 0, high: 1, normal: 2, low: 3 };

interface ListResponse {
  announcements: AnnouncementData[];
  stream: string;
  stream_seq: number;
}

/** What the store sorts and shows of an announcement event's data: anything else is not one and is ignored. */
function isAnnouncement(data: Record<string, unknown>): boolean {
  return ['id', 'title', 'message', 'priority', 'created_at'].every((field) => typeof data[field] === 'string');
}

/** Most urgent first, then newest (the API's order), so a live change keeps the list as the API would answer it. */
function byUrgency(a: AnnouncementData, b: AnnouncementData): number {
  return (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) || b.created_at.localeCompare(a.created_at) || Number(b.id) - Number(a.id);
}

/**
 * A target's active announcements, live: GET /api/announcements?target=… (the list and the seq
 * of the target's stream read with it), then `announcement` / `announcement_updated` /
 * `announcement_expired` on that stream, resumed from the seq across reconnects. The channel is
 * often subscribed already (`all` by the scoreboard, `league:<id>` by its table), and then events
 * may reach the client before this store's handler exists: when the client's position is past the
 * list's seq right after subscribing, the list is read again (the handler now sees everything newer).
 * On RESUME_TOO_OLD the list is reloaded. Announcements past `expires_at` are dropped locally too.
 */
export function createAnnouncements(client: MatchcastClient, options: AnnouncementsOptions): Announcements {
  const limit = options.limit ?? MAX_ANNOUNCEMENTS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ANNOUNCEMENTS) throw new TypeError(`createAnnouncements: \`limit\` must be an integer from 1 to ${MAX_ANNOUNCEMENTS}`);
  const query =
    (options.target === 'everyone' ? 'target=everyone' : `target=${options.target}&target_id=${encodeURIComponent(options.targetId)}`) +
    (options.limit === undefined ? '' : `&limit=${limit}`);
  const url = `${options.baseUrl.replace(/\/$/, '')}/api/announcements?${query}`;
  const stream = options.target === 'everyone' ? 'all' : `${options.target}:${options.targetId}`;
  const channel = options.channel ?? stream;
  const fetchImpl = timedFetch('createAnnouncements', options.fetch, options.timeoutMs);
  const emitter = new Emitter<{ change: [AnnouncementsChange] }>();
  const items = new Map<string, AnnouncementData>();
  let sorted: AnnouncementData[] = [];
  let seq = 0;
  let unsubscribe: (() => void) | undefined;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  /**
   * Drops what has expired and what is past `limit` (as a reload would list them: a page left
   * open does not gather every announcement published without an expiry), and arms a timer for
   * the next expiry (the server's event normally comes first).
   */
  const refresh = (): void => {
    const now = Date.now();
    for (const [id, item] of items) if (item.expires_at !== null && Date.parse(item.expires_at) <= now) items.delete(id);
    sorted = [...items.values()].sort(byUrgency);
    for (const item of sorted.splice(limit)) items.delete(item.id);
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    const next = Math.min(...sorted.map((item) => (item.expires_at === null ? Infinity : Date.parse(item.expires_at))));
    expiryTimer = Number.isFinite(next) && !closed ? setTimeout(() => (refresh(), emitter.emit('change', { cause: 'event' })), Math.min(2 ** 31 - 1, next - now + 50)) : undefined;
  };

  const fetchList = async (): Promise<ListResponse> => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${await options.token()}`;
    const response = await fetchImpl(url, { headers });
    const body = (await response.json().catch(() => undefined)) as (ListResponse & { error?: unknown }) | undefined;
    if (!response.ok || !body) {
      const error = body?.error as { code?: unknown } | string | undefined;
      const code = typeof error === 'string' ? error : typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`;
      throw new MatchcastApiError(code, `GET /api/announcements?${query} answered ${response.status}`, response.status);
    }
    return body;
  };

  /** Events that arrived while a list was being read; applied after it when newer. */
  let buffer: DeliveredMessage[] | undefined;

  const applyEvent = (event: DeliveredMessage): void => {
    const data = event.data as unknown as AnnouncementData;
    if (event.type === 'announcement_expired' || data.state === 'expired') items.delete(data.id);
    else items.set(data.id, data);
    seq = event.seq;
  };

  const load = async (): Promise<number> => {
    buffer = unsubscribe ? [] : undefined;
    let body: ListResponse;
    try {
      body = await fetchList();
    } catch (error) {
      // No list (a reload the API refused): what arrived meanwhile applies to what is held, and
      // the store goes on applying events (it held every later one in `buffer` for ever).
      const pending = buffer ?? [];
      buffer = undefined;
      for (const event of pending) onEvent(event);
      throw error;
    }
    const pending = buffer ?? [];
    buffer = undefined;
    if (closed) return body.stream_seq;
    items.clear();
    for (const item of body.announcements) items.set(item.id, item);
    seq = body.stream_seq;
    for (const event of pending) if (event.seq > seq) applyEvent(event);
    refresh();
    emitter.emit('change', { cause: 'snapshot' });
    return body.stream_seq;
  };

  const onEvent = (event: DeliveredMessage): void => {
    if (!ANNOUNCEMENT_TYPES.has(event.type) || event.stream !== stream || !isAnnouncement(event.data)) return;
    if (buffer) return void buffer.push(event);
    if (event.seq <= seq) return;
    applyEvent(event);
    refresh();
    emitter.emit('change', { cause: 'event', event });
  };

  const removeReset = client.addResetHandler(async (reset) => (closed || reset !== stream ? undefined : { [stream]: await load() }));
  const ready = load().then(async (listSeq) => {
    if (closed) return;
    client.seed({ [stream]: listSeq });
    unsubscribe = client.subscribe(channel, onEvent);
    // Events delivered to the channel's other handlers before ours was added: read the list again.
    if ((client.position(stream) ?? 0) > listSeq) await load();
  });

  return {
    ready,
    stream,
    get items() {
      return sorted;
    },
    get seq() {
      return seq;
    },
    on: (name, listener) => emitter.on(name, listener),
    close() {
      closed = true;
      removeReset();
      unsubscribe?.();
      if (expiryTimer !== undefined) clearTimeout(expiryTimer);
      emitter.clear();
    },
  };
}
