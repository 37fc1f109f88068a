import type { MatchcastClient } from './client.js';
import { Emitter } from './emitter.js';
import { timedFetch } from './timed-fetch.js';
import { tokenSubject } from './token.js';
import type { StreamPositions } from './types.js';
import type { DeliveredMessage, Notification, NotificationsResponse, UserEventData } from './wire.js';
import type { StoreChange } from './store-change.js';

export interface NotificationsOptions {
  /** Where the REST API is, e.g. `location.origin` (requests go to `<baseUrl>/api/notifications…`). */
  baseUrl: string;
  /** The signed-in user's token (the same provider the client uses); sent as `Authorization: Bearer`. */
  token: () => string | Promise<string>;
  /** The user whose notifications these are. Default: the token's `sub`. */
  userId?: string;
  /** How many of the newest notifications the snapshot loads. Default 50. */
  limit?: number;
  /** A request not answered within this many ms fails (the store's `ready` rejects, a reload is given up). Default 20000. */
  timeoutMs?: number;
  /** A fetch implementation; default the global one. */
  fetch?: typeof fetch;
}

export type NotificationsChange = StoreChange;

export interface NotificationStore {
  /** Resolves once the first snapshot is loaded and the user's channel subscribed. */
  readonly ready: Promise<void>;
  /** The user's id (known once `ready`). */
  readonly userId: string | undefined;
  /** The loaded notifications, newest first, expired ones left out. */
  readonly items: readonly Notification[];
  /** Unread and not expired, as the server counts them (every user event carries it). */
  readonly unreadCount: number;
  /** All of the user's notifications, loaded or not. */
  readonly total: number;
  get(id: string): Notification | undefined;
  /** Any change to the list or the counts. */
  on(name: 'change', listener: (change: NotificationsChange) => void): () => void;
  /** A notification that arrived live (not one from a snapshot): for toasts. */
  on(name: 'notification', listener: (notification: Notification) => void): () => void;
  /** PATCH /api/notifications/{id}/read. Every tab (this one too) updates from the user stream. */
  markRead(id: string): Promise<void>;
  /** POST /api/notifications/mark-all-read; resolves with how many were marked. */
  markAllRead(): Promise<number>;
  /** DELETE /api/notifications/{id}. */
  remove(id: string): Promise<void>;
  /** Unsubscribes and stops handling resets (the client stays connected). */
  close(): void;
}

/** A refused API request: the server's stable error code and the HTTP status. */
export class MatchcastApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'MatchcastApiError';
  }
}

type StoreEvents = { change: [NotificationsChange]; notification: [Notification] };

/**
 * A live notification centre for one user: loads GET /api/notifications (list, total, unread
 * count and the user stream's seq they were read at), seeds the client with that seq and
 * subscribes to `user:<id>`, so every change after the snapshot arrives exactly once and in
 * order, on every tab. Changes made here (markRead, markAllRead, remove) go to the REST API and
 * show when the stream echoes them — the same path as for the user's other tabs, so all agree.
 * On RESUME_TOO_OLD the snapshot is reloaded and replaces the state (nothing doubles).
 */
export function createNotifications(client: MatchcastClient, options: NotificationsOptions): NotificationStore {
  const base = `${options.baseUrl.replace(/\/$/, '')}/api/notifications`;
  const limit = options.limit ?? 50;
  const fetchImpl = timedFetch('createNotifications', options.fetch, options.timeoutMs);
  const emitter = new Emitter<StoreEvents>();
  let items: Notification[] = [];
  let unreadCount = 0;
  let total = 0;
  let userId = options.userId;
  let unsubscribe: (() => void) | undefined;
  let closed = false;

  const request = async <T>(method: string, url: string): Promise<T> => {
    const response = await fetchImpl(url, { method, headers: { authorization: `Bearer ${await options.token()}` } });
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok) throw apiError(method, url, response.status, body);
    return body as T;
  };

  const stream = () => `user:${userId}`;

  const load = async (): Promise<StreamPositions> => {
    const snapshot = await request<NotificationsResponse>('GET', `${base}?limit=${limit}`);
    if (closed) return {};
    items = [...snapshot.notifications];
    unreadCount = snapshot.unread_count;
    total = snapshot.total;
    emitter.emit('change', { cause: 'snapshot' });
    // Without the stream's seq the snapshot cannot be placed in the stream: live events then
    // continue from whenever the subscription starts.
    return typeof snapshot.stream_seq === 'number' ? { [stream()]: snapshot.stream_seq } : {};
  };

  /** Every user event carries the new unread count; one that does not (a malformed event) changes nothing. */
  const countOf = (data: { unread_count?: unknown }): number =>
    typeof data.unread_count === 'number' && Number.isSafeInteger(data.unread_count) && data.unread_count >= 0 ? data.unread_count : unreadCount;

  const apply = (event: DeliveredMessage): void => {
    // A notification, read or deletion names its notification by id: without one there is nothing to apply.
    if (event.type !== 'notifications_read_all' && typeof event.data.id !== 'string') return;
    switch (event.type) {
      case 'notification': {
        const { unread_count: _count, ...notification } = event.data as unknown as UserEventData['notification'];
        unreadCount = countOf(event.data);
        // Only a stream event creates a notification, once: an id already listed is a reload's overlap.
        if (items.some((item) => item.id === notification.id)) break;
        total++;
        // The newest `limit`, as a reload would list them: a long session does not grow the list.
        items = [notification, ...items].sort(newestFirst).slice(0, limit);
        emitter.emit('change', { cause: 'event', event });
        emitter.emit('notification', notification);
        return;
      }
      case 'notification_read': {
        const data = event.data as unknown as UserEventData['notification_read'];
        unreadCount = countOf(data);
        items = items.map((item) => (item.id === data.id && !item.is_read ? { ...item, is_read: true, read_at: data.read_at } : item));
        break;
      }
      case 'notifications_read_all': {
        const data = event.data as unknown as UserEventData['notifications_read_all'];
        unreadCount = countOf(data);
        items = items.map((item) => (item.is_read ? item : { ...item, is_read: true, read_at: data.read_at }));
        break;
      }
      case 'notification_deleted': {
        const data = event.data as unknown as UserEventData['notification_deleted'];
        unreadCount = countOf(data);
        total = Math.max(0, total - 1);
        items = items.filter((item) => item.id !== data.id);
        break;
      }
      default:
        return;
    }
    emitter.emit('change', { cause: 'event', event });
  };

  const removeReset = client.addResetHandler((reset) => (closed || reset !== stream() ? undefined : load()));
  const ready = (async () => {
    if (userId === undefined) userId = tokenSubject(await options.token());
    if (userId === undefined) throw new TypeError('createNotifications: no `userId` and the token has no `sub`');
    const positions = await load();
    if (closed) return;
    client.seed(positions);
    unsubscribe = client.subscribe(stream(), apply);
  })();

  const byId = (id: string) => `${base}/${encodeURIComponent(id)}`;
  return {
    ready,
    get userId() {
      return userId;
    },
    get items() {
      const now = Date.now();
      return items.filter((item) => item.expires_at === null || Date.parse(item.expires_at) > now);
    },
    get unreadCount() {
      return unreadCount;
    },
    get total() {
      return total;
    },
    get: (id) => items.find((item) => item.id === id),
    on: (name: keyof StoreEvents, listener: (...args: never[]) => void) => emitter.on(name, listener as () => void),
    async markRead(id) {
      await request('PATCH', `${byId(id)}/read`);
    },
    async markAllRead() {
      const { marked_as_read } = await request<{ marked_as_read: number }>('POST', `${base}/mark-all-read`);
      return marked_as_read;
    },
    async remove(id) {
      await request('DELETE', byId(id));
    },
    close() {
      closed = true;
      removeReset();
      unsubscribe?.();
      emitter.clear();
    },
  };
}

/** Ids are bigserial numbers as strings: longer is newer, then lexicographic. */
function newestFirst(a: Notification, b: Notification): number {
  return b.id.length - a.id.length || (b.id > a.id ? 1 : b.id < a.id ? -1 : 0);
}

/** The server's `{error: CODE, message}` (or `{error: {code, message}}`) as an error to throw. */
function apiError(method: string, url: string, status: number, body: Record<string, unknown> | undefined): MatchcastApiError {
  const error = body?.error;
  const nested = error && typeof error === 'object' ? (error as Record<string, unknown>) : undefined;
  const code = typeof error === 'string' ? error : typeof nested?.code === 'string' ? nested.code : `HTTP_${status}`;
  const message = typeof body?.message === 'string' ? body.message : typeof nested?.message === 'string' ? nested.message : '';
  return new MatchcastApiError(code, `${method} ${new URL(url, 'http://x').pathname} answered ${status}${message ? `: ${message}` : ''}`, status);
}
