/**
 * GET /api/notifications/stream on a real gateway process, with Postgres, Redis and the
 * notify-listener: refused with a coded 401 before the stream starts without a user token;
 * `connected` first (unread count as of its `stream_seq`), then every change of the user's
 * notifications as an event named by its type, in order; `ping`; the browser's reconnect by
 * Last-Event-ID gets exactly the missed events; another user's events never arrive.
 */
import { mintToken } from '@matchcast/auth';
import { SseStream, type SseEvent } from '../../services/gateway/test/sse-support';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'notification-stream-e2e-secret-0123456789abcdef';
const POSITION_KEY = 'notification-stream-e2e-position-key-0123456789';

describe('GET /api/notifications/stream', () => {
  const infra = new Infra();
  let listener: ServiceProcess;
  let gateway: GatewayProcess;
  let base: string;
  const streams: SseStream[] = [];

  const token = (user: string, ttlSeconds = 600) => mintToken(SECRET, { subject: user, ttlSeconds });
  const open = (headers: Record<string, string> = {}, query = '') => {
    const stream = new SseStream(`${base}/api/notifications/stream${query}`, headers);
    streams.push(stream);
    return stream;
  };
  const bearer = async (user: string, extra: Record<string, string> = {}) => open({ Authorization: `Bearer ${await token(user)}`, ...extra });
  const notify = async (users: string[], title: string): Promise<string[]> =>
    (await infra.db.query<{ id: string }>(
      `SELECT id::text FROM matchcast_notify_users($1::text[], $2, 'a message', 'goal', NULL, NULL, NULL, '{"minute": 12}'::jsonb, NULL, NULL, NULL)`,
      [users, title],
    )).rows.map((r) => r.id);
  const outboxSeqs = async (stream: string, after: number) =>
    (await infra.db.query<{ seq: number }>('SELECT seq::int FROM outbox WHERE stream = $1 AND seq > $2 ORDER BY seq', [stream, after])).rows.map((r) => r.seq);
  const named = (stream: SseStream) => stream.events.filter((e) => e.event !== 'ping');
  const last = (stream: SseStream, name: string): Promise<SseEvent> => stream.next((e) => e.event === name);

  beforeAll(async () => {
    await infra.start(true);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    listener = new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }, 'listener-notification-stream').start();
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, AUTH_JWT_SECRET: SECRET, SSE_POSITION_KEY: POSITION_KEY, WS_PING_INTERVAL_MS: '1000' }, 'gateway-notification-stream');
    gateway.start();
    await gateway.ready();
    await waitFor('gateway on the Redis path', async () => ((await gateway.mode()) === 'redis' ? true : undefined));
    base = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await gateway?.stop();
    await listener?.stop();
    await infra.destroy();
  });

  it('refuses a request without a valid user token with a coded 401 before the stream starts', async () => {
    const expired = await token('u1', -120);
    const cases: [Record<string, string>, string, string][] = [
      [{}, '', 'UNAUTHORIZED'],
      [{ Authorization: 'Bearer not-a-jwt' }, '', 'UNAUTHORIZED'],
      [{ Authorization: 'Basic dTE6cGFzcw==' }, '', 'UNAUTHORIZED'],
      [{}, '?token=garbage', 'UNAUTHORIZED'],
      [{ Authorization: `Bearer ${await mintToken('another-secret-that-is-long-enough-0123', { subject: 'u1' })}` }, '', 'UNAUTHORIZED'],
      [{}, `?token=${expired}`, 'TOKEN_EXPIRED'],
      // Valid tokens whose subject names no user's stream: 401 as the API answers them, not an error about a channel.
      [{ Authorization: `Bearer ${await token('a:b')}` }, '', 'UNAUTHORIZED'],
      [{ Authorization: `Bearer ${await token('x/announcements')}` }, '', 'UNAUTHORIZED'],
    ];
    for (const [headers, query, code] of cases) {
      const stream = open(headers, query);
      await stream.done;
      expect({ query, status: stream.status, code: stream.body?.error }).toEqual({ query, status: 401, code });
    }
  });

  it('sends connected, then every change of the user’s notifications, named by type and in order, and pings', async () => {
    await notify(['u1'], 'before'); // one unread before connecting
    const bystander = await bearer('u2');
    // Its position is read when it opens: what commits before `connected` is in its unread count, not its events.
    await last(bystander, 'connected');
    const stream = await bearer('u1');
    const connected = await last(stream, 'connected');
    expect(named(stream)[0]).toBe(connected);
    expect(connected.json).toMatchObject({ user_id: 'u1', unread_count: 1, connection_id: expect.any(String) });
    const startSeq = connected.json.stream_seq as number;
    expect(startSeq).toBe((await outboxSeqs('user:u1', 0)).at(-1));

    const [first] = await notify(['u1', 'u2'], 'Goal!');
    await notify(['u2'], 'only for u2');
    const [second] = await notify(['u1'], 'Red card');
    await infra.db.query('SELECT matchcast_mark_read($1, $2)', ['u1', first]);
    await infra.db.query('SELECT matchcast_delete_notification($1, $2)', ['u1', second]);
    await infra.db.query('SELECT matchcast_mark_all_read($1)', ['u1']);
    await stream.next((e) => e.event === 'notifications_read_all');
    await stream.next((e) => e.event === 'ping', 5000);

    const events = named(stream).slice(1);
    expect(events.map((e) => e.event)).toEqual(['notification', 'notification', 'notification_read', 'notification_deleted', 'notifications_read_all']);
    expect(events[0]!.json).toMatchObject({ id: first, user_id: 'u1', title: 'Goal!', message: 'a message', type: 'goal', is_read: false, data: { minute: 12 }, unread_count: 2 });
    expect(events[1]!.json).toMatchObject({ id: second, title: 'Red card', unread_count: 3 });
    expect(events[2]!.json).toMatchObject({ id: first, unread_count: 2, read_at: expect.any(String) });
    expect(events[3]!.json).toMatchObject({ id: second, unread_count: 1 });
    expect(events[4]!.json).toMatchObject({ marked_as_read: 1, unread_count: 0 });
    // Every event has a position token for an id; nothing of u2 ever arrives.
    for (const event of events) expect(event.id).toMatch(/^1:/);
    expect(events.some((e) => e.json?.user_id === 'u2' || e.json?.title === 'only for u2')).toBe(false);
    expect(named(bystander).filter((e) => e.event === 'notification').map((e) => e.json.title)).toEqual(['Goal!', 'only for u2']);
  });

  it('resumes from the Last-Event-ID with exactly the missed events, then goes on live; ?token= works as EventSource sends it', async () => {
    const query = `?token=${await token('u3')}`;
    const first = open({}, query);
    await last(first, 'connected');
    await notify(['u3'], 'one');
    await first.next((e) => e.event === 'notification');
    const from = first.lastEventId;
    first.close();

    await notify(['u3'], 'missed 1');
    await notify(['u4'], 'not yours');
    const [readMe] = await notify(['u3'], 'missed 2');
    await infra.db.query('SELECT matchcast_mark_read($1, $2)', ['u3', readMe]);

    const second = open({ 'Last-Event-ID': from }, query);
    const connected = await last(second, 'connected');
    await second.next((e) => e.event === 'notification_read');
    await notify(['u3'], 'live again');
    await second.next((e) => e.event === 'notification' && e.json.title === 'live again');
    const replayed = named(second).filter((e) => e !== connected);
    expect(replayed.map((e) => [e.event, e.json.title ?? null])).toEqual([
      ['notification', 'missed 1'],
      ['notification', 'missed 2'],
      ['notification_read', null],
      ['notification', 'live again'],
    ]);
    // Seq for seq, the outbox after the first connection's last event.
    const seqs = (stream: SseStream) => stream.events.filter((e) => e.id && e.event !== 'connected' && e.event !== 'ping').length;
    expect(seqs(second)).toBe((await outboxSeqs('user:u3', 0)).length - 1 /* 'one' */);
  });

  it('refuses a forged Last-Event-ID (400) and another user’s position (403) before the stream starts; the others go on', async () => {
    const other = await bearer('u5');
    await last(other, 'connected');
    await notify(['u5'], 'for u5');
    await other.next((e) => e.event === 'notification');
    const theirs = other.lastEventId;

    const forged = await bearer('u6', { 'Last-Event-ID': theirs.replace(/~[0-9a-z]+$/, '~0') });
    await forged.done;
    expect([forged.status, forged.body?.error]).toEqual([400, 'BAD_POSITION_TOKEN']);
    const stolen = await bearer('u6', { 'Last-Event-ID': theirs });
    await stolen.done;
    expect([stolen.status, stolen.body?.error]).toEqual([403, 'FORBIDDEN_CHANNEL']);

    await notify(['u5'], 'still here');
    await other.next((e) => e.json?.title === 'still here');
    expect(other.ended).toBe(false);
  });
});
