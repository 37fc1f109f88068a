/**
 * The notifications store against a scripted WebSocket and a scripted REST API: the snapshot's
 * stream_seq seeds the user stream, events apply once (duplicates dropped by seq, a reload
 * replaces the state instead of adding to it), and the REST calls it makes.
 */
import { MatchcastClient } from '../../src/client';
import { createNotifications, MatchcastApiError, type NotificationStore } from '../../src/notifications';
import type { Notification, NotificationsResponse } from '../../src/wire';
import { FakeSocket } from './fake-socket';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const TOKEN = `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice' })}.sig`;
const STREAM = 'user:alice';
const flush = () => new Promise((resolve) => setImmediate(resolve));
const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

function note(id: number, extra: Partial<Notification> = {}): Notification {
  return {
    id: String(id), user_id: 'alice', title: `n${id}`, message: '', type: 'goal', match_id: 'm1', team_id: 't1', league_id: null,
    data: {}, priority: 'normal', is_read: false, read_at: null, created_at: '2026-01-01T00:00:00.000Z', expires_at: null, ...extra,
  };
}

let seq = 0;
function userEvent(type: string, data: Record<string, unknown>, at = ++seq) {
  return { type, match_id: null, data, timestamp: `2026-01-01T00:00:${String(at % 60).padStart(2, '0')}.000Z`, channel: STREAM, stream: STREAM, seq: at, id: `o${at}` };
}

/** A scripted API: the snapshot to serve next, and every request seen. */
class FakeApi {
  snapshot: NotificationsResponse = { notifications: [], total: 0, unread_count: 0, stream_seq: 0 };
  requests: { method: string; url: string; authorization: string | null }[] = [];
  answers = new Map<string, { status: number; body: unknown }>();
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? 'GET';
    const url = String(input);
    this.requests.push({ method, url, authorization: new Headers(init?.headers).get('authorization') });
    const answer = this.answers.get(`${method} ${new URL(url).pathname}`) ?? { status: 200, body: method === 'GET' ? this.snapshot : {} };
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  };
}

let api: FakeApi;
let client: MatchcastClient;
let store: NotificationStore;

beforeEach(() => {
  FakeSocket.all = [];
  seq = 0;
  api = new FakeApi();
  client = new MatchcastClient({ url: 'ws://gw/ws', WebSocket: FakeSocket, pingIntervalMs: 0, backoff: { baseMs: 10, maxMs: 20, lostJitterMs: 10 }, token: () => TOKEN });
});
afterEach(() => {
  store?.close();
  client.close();
});

async function startLive(snapshot: Partial<NotificationsResponse> = {}) {
  api.snapshot = { ...api.snapshot, ...snapshot };
  store = createNotifications(client, { baseUrl: 'http://app.test/', token: () => TOKEN, fetch: api.fetch, limit: 20 });
  await store.ready;
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: [STREAM] });
}

it('loads the snapshot as the user of the token, and subscribes from its stream_seq', async () => {
  await startLive({ notifications: [note(3), note(2, { is_read: true })], total: 5, unread_count: 1, stream_seq: 7 });
  expect(store.userId).toBe('alice');
  expect(api.requests[0]).toEqual({ method: 'GET', url: 'http://app.test/api/notifications?limit=20', authorization: `Bearer ${TOKEN}` });
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: [STREAM], resume: { [STREAM]: 7 } }]);
  expect(store.items.map((n) => n.id)).toEqual(['3', '2']);
  expect([store.unreadCount, store.total]).toEqual([1, 5]);
});

it('subscribes with the seq when the client is already connected', async () => {
  client.connect();
  await flush();
  last().open();
  api.snapshot.stream_seq = 4;
  store = createNotifications(client, { baseUrl: 'http://app.test', token: () => TOKEN, fetch: api.fetch });
  await store.ready;
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: [STREAM], resume: { [STREAM]: 4 } }]);
});

it('applies every user event once, with the unread count the server sends', async () => {
  seq = 7;
  await startLive({ notifications: [note(3), note(2)], total: 2, unread_count: 2, stream_seq: 7 });
  const toasts: string[] = [];
  let changes = 0;
  store.on('notification', (n) => toasts.push(n.id));
  store.on('change', () => changes++);

  const created = userEvent('notification', { ...note(10), unread_count: 3 });
  last().message(created);
  last().message(created); // a duplicate delivery (same seq): dropped by the client
  last().message(userEvent('notification', { ...note(2), unread_count: 3 }, 7)); // at or below the snapshot's seq
  expect(store.items.map((n) => n.id)).toEqual(['10', '3', '2']);
  expect([store.unreadCount, store.total, toasts, changes]).toEqual([3, 3, ['10'], 1]);

  last().message(userEvent('notification_read', { id: '3', read_at: '2026-01-01T00:01:00.000Z', unread_count: 2 }));
  expect(store.get('3')).toMatchObject({ is_read: true, read_at: '2026-01-01T00:01:00.000Z' });
  expect(store.unreadCount).toBe(2);

  last().message(userEvent('notifications_read_all', { marked_as_read: 2, read_at: '2026-01-01T00:02:00.000Z', unread_count: 0 }));
  expect(store.items.map((n) => [n.id, n.is_read, n.read_at])).toEqual([
    ['10', true, '2026-01-01T00:02:00.000Z'],
    ['3', true, '2026-01-01T00:01:00.000Z'],
    ['2', true, '2026-01-01T00:02:00.000Z'],
  ]);

  last().message(userEvent('notification_deleted', { id: '3', unread_count: 0 }));
  expect(store.items.map((n) => n.id)).toEqual(['10', '2']);
  expect([store.unreadCount, store.total]).toEqual([0, 2]);
  expect(changes).toBe(4);
});

it('without a stream_seq (an older API), a notification already in the snapshot is not added twice', async () => {
  await startLive({ notifications: [note(2)], total: 1, unread_count: 1, stream_seq: undefined });
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: [STREAM] }]);
  const toasts: string[] = [];
  store.on('notification', (n) => toasts.push(n.id));
  last().message(userEvent('notification', { ...note(2), unread_count: 1 }));
  last().message(userEvent('notification', { ...note(3), unread_count: 2 }));
  expect(store.items.map((n) => n.id)).toEqual(['3', '2']);
  expect([store.unreadCount, store.total, toasts]).toEqual([2, 2, ['3']]);
});

it('orders by id as numbers (a newer id may be longer)', async () => {
  seq = 1;
  await startLive({ notifications: [note(9), note(8)], total: 2, unread_count: 2, stream_seq: 1 });
  last().message(userEvent('notification', { ...note(10), unread_count: 3 }));
  expect(store.items.map((n) => n.id)).toEqual(['10', '9', '8']);
});

it('leaves expired notifications out of the list', async () => {
  await startLive({ notifications: [note(2, { expires_at: '2000-01-01T00:00:00.000Z' }), note(1)], total: 2, unread_count: 1, stream_seq: 0 });
  expect(store.items.map((n) => n.id)).toEqual(['1']);
});

it('on RESUME_TOO_OLD reloads the snapshot in place of the state: nothing doubles, nothing is lost', async () => {
  seq = 3;
  await startLive({ notifications: [note(1)], total: 1, unread_count: 1, stream_seq: 3 });
  last().message(userEvent('notification', { ...note(2), unread_count: 2 })); // seq 4
  // The connection drops; the server's history no longer covers seq 4.
  last().drop(1006);
  await new Promise((resolve) => setTimeout(resolve, 50));
  last().open();
  expect(last().subscribes()[0].resume).toEqual({ [STREAM]: 4 });
  // Meanwhile: notifications 3 and 4 were created (seq 5, 6), 1 was deleted (seq 7), 5 created (seq 8).
  api.snapshot = { notifications: [note(5), note(4), note(3), note(2)], total: 4, unread_count: 4, stream_seq: 8 };
  last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'too old', stream: STREAM });
  // Events arriving while the snapshot loads are held, then those after its seq are applied.
  last().message(userEvent('notification', { ...note(5), unread_count: 4 }, 8));
  last().message(userEvent('notification', { ...note(6), unread_count: 5 }, 9));
  await flush();
  await flush();
  expect(store.items.map((n) => n.id)).toEqual(['6', '5', '4', '3', '2']);
  expect([store.unreadCount, store.total]).toEqual([5, 5]);
  expect(client.position(STREAM)).toBe(9);
  expect(api.requests.filter((r) => r.method === 'GET')).toHaveLength(2);
});

it('sends markRead, markAllRead and remove to the API, and changes nothing until the stream says so', async () => {
  await startLive({ notifications: [note(2), note(1)], total: 2, unread_count: 2, stream_seq: 0 });
  api.answers.set('POST /api/notifications/mark-all-read', { status: 200, body: { marked_as_read: 2 } });
  await store.markRead('2');
  expect(await store.markAllRead()).toBe(2);
  await store.remove('1');
  expect(api.requests.slice(1).map((r) => `${r.method} ${r.url} ${r.authorization === `Bearer ${TOKEN}`}`)).toEqual([
    'PATCH http://app.test/api/notifications/2/read true',
    'POST http://app.test/api/notifications/mark-all-read true',
    'DELETE http://app.test/api/notifications/1 true',
  ]);
  expect(store.unreadCount).toBe(2);
  expect(store.items).toHaveLength(2);
});

it('throws the server’s error code when the API refuses', async () => {
  await startLive();
  api.answers.set('PATCH /api/notifications/99/read', { status: 404, body: { error: 'NOT_FOUND', message: 'no such notification' } });
  api.answers.set('DELETE /api/notifications/..%2Fx', { status: 400, body: { error: { code: 'BAD_REQUEST', message: 'bad id' } } });
  await expect(store.markRead('99')).rejects.toMatchObject({ name: 'MatchcastApiError', code: 'NOT_FOUND', status: 404 });
  await expect(store.remove('../x')).rejects.toBeInstanceOf(MatchcastApiError);
  await expect(store.remove('../x')).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('bad id') });
});

it('fails `ready` when the snapshot cannot be loaded, and when no user is known', async () => {
  api.answers.set('GET /api/notifications', { status: 401, body: { error: 'UNAUTHORIZED', message: 'missing or invalid token' } });
  store = createNotifications(client, { baseUrl: 'http://app.test', token: () => TOKEN, fetch: api.fetch });
  await expect(store.ready).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
  expect(client.channels).toEqual([]);
  const anonymous = createNotifications(client, { baseUrl: 'http://app.test', token: () => 'not-a-jwt', fetch: api.fetch });
  await expect(anonymous.ready).rejects.toThrow(/no `userId`/);
});

it('keeps at most `limit` notifications, the newest, however many arrive live (total still counts them all)', async () => {
  api.snapshot = { notifications: [note(2), note(1)], total: 2, unread_count: 2, stream_seq: 0 };
  store = createNotifications(client, { baseUrl: 'http://app.test/', token: () => TOKEN, fetch: api.fetch, limit: 3 });
  await store.ready;
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: [STREAM] });
  for (let id = 3; id <= 500; id++) last().message(userEvent('notification', { ...note(id), unread_count: id }));
  expect(store.items.map((n) => n.id)).toEqual(['500', '499', '498']);
  expect([store.unreadCount, store.total]).toEqual([500, 500]);
});

it('ignores a user event whose data is not what its type says: no throw, the unread count stays a number', async () => {
  await startLive({ notifications: [note(2)], total: 1, unread_count: 1, stream_seq: 0 });
  const thrown: unknown[] = [];
  const onError = (error: unknown) => thrown.push(error);
  process.on('uncaughtException', onError);
  try {
    last().message(userEvent('notification', { title: '<img src=x onerror=alert(1)>' }));
    last().message(userEvent('notification', { id: 7, unread_count: 'many' }));
    last().message(userEvent('notification_read', { id: '2' }));
    last().message(userEvent('notification_deleted', { unread_count: null }));
    last().message(userEvent('notifications_read_all', {}));
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('uncaughtException', onError);
  }
  expect(thrown).toEqual([]);
  expect(typeof store.unreadCount).toBe('number');
  expect(store.items.map((n) => n.id)).toEqual(['2']);
});
