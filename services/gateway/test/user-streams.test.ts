/**
 * User streams against a real gateway, Postgres and its LISTEN path: the gateway follows a
 * user:<id> stream only while a local client subscribes to it, and a subscriber still gets
 * every event of its stream exactly once, in order — live, resumed, and across commits that
 * race its subscribe.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, token } from './support';

/** Generous: these tests must hold on a loaded 2-core machine too. */
const SLOW_MS = 20_000;

describe('user streams on a gateway', () => {
  let postgres: PostgresServer;
  let db: pg.Pool;
  let gateway: Gateway;
  let base: string;
  let url: string;

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Pool({ connectionString: postgres.url, max: 6 });
    await migrate(db);
    const config = loadConfig(
      new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    base = `http://127.0.0.1:${gateway.port}`;
    url = `ws://127.0.0.1:${gateway.port}/ws`;
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  /** One metric series' value from /metrics (0 when absent). */
  const metric = async (name: string, label = ''): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.opsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => (l.startsWith(name + ' ') || l.startsWith(name + '{')) && l.includes(label));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const trackedUsers = () => metric('matchcast_gateway_tracked_streams', 'kind="user"');

  /** One notification for each of these users, each appended to its user:<id> stream in the same transaction. */
  const notify = (users: string[], title = 'Goal') =>
    db.query(`SELECT 1 FROM matchcast_notify_users($1::text[], $2, 'message', 'goal', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, [users, title]);
  /** `count` separate commits for one user, `inFlight` at a time. */
  const burst = async (user: string, count: number, inFlight = 4) => {
    let left = count;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (left-- > 0) await notify([user]);
    }));
  };
  const head = async (stream: string): Promise<number> =>
    (await db.query<{ s: number }>('SELECT last_seq::int AS s FROM stream_counter WHERE stream = $1', [stream])).rows[0]?.s ?? 0;
  /** The notification ids of a stream's events in (after, upto], in seq order. */
  const notificationIds = async (stream: string, after: number, upto: number): Promise<string[]> =>
    (await db.query<{ id: string }>(`SELECT data->>'id' AS id FROM outbox WHERE stream = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`, [stream, after, upto])).rows.map((r) => r.id);

  const connect = async (user: string): Promise<TestClient> => {
    const client = new TestClient(`${url}?token=${await token(user, 600)}`);
    await client.opened();
    return client;
  };
  const events = (client: TestClient, stream: string) => client.messages.filter((m) => m.stream === stream);
  /** Waits until the client has the stream's events up to its current head. */
  const caughtUp = async (client: TestClient, stream: string) => {
    const last = await head(stream);
    await waitFor(`${stream}@${last}`, async () => (events(client, stream).at(-1)?.seq === last ? true : undefined), SLOW_MS);
  };
  const closed = async (client: TestClient) => {
    client.ws.close();
    await client.closed;
  };

  it('(a) a subscriber gets exactly the events of its user stream committed after its subscribe, including those racing it', async () => {
    await burst('u1', 5);
    const client = await connect('u1');
    const racing = burst('u1', 40);
    client.send({ action: 'subscribe', channels: ['user:u1'] });
    const answer = await client.next((m) => m.type === 'subscribed', SLOW_MS);
    const before = events(client, 'user:u1').length;
    const headAtAnswer = await head('user:u1');
    await racing;
    await burst('u1', 5);
    await caughtUp(client, 'user:u1');

    const got = events(client, 'user:u1');
    expect(answer.channels).toEqual(['user:u1']);
    expect(got.length).toBeGreaterThan(before);
    const first = got[0].seq;
    const last = await head('user:u1');
    // Contiguous from where the subscribe took effect to the head: none lost, none doubled.
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
    expect(first).toBeLessThanOrEqual(headAtAnswer + 1); // everything committed after `subscribed` is there
    expect(got.map((m) => m.data.id)).toEqual(await notificationIds('user:u1', first - 1, last));
    expect(got.every((m) => m.type === 'notification' && m.channel === 'user:u1' && typeof m.data.unread_count === 'number')).toBe(true);
    expect(await trackedUsers()).toBe(1);
    await closed(client);
    await waitFor('user:u1 forgotten', async () => ((await trackedUsers()) === 0 ? true : undefined), SLOW_MS);
  });

  it('(b) resume on a stream this gateway does not follow yet gets exactly the missed events, once, in order', async () => {
    expect(await trackedUsers()).toBe(0);
    const from = await head('user:u1');
    await burst('u1', 20); // missed while away
    const client = await connect('u1');
    const racing = burst('u1', 30);
    client.send({ action: 'subscribe', channels: ['user:u1'], resume: { 'user:u1': from } });
    await client.next((m) => m.type === 'resumed', SLOW_MS);
    await racing;
    await caughtUp(client, 'user:u1');
    const last = await head('user:u1');
    const got = events(client, 'user:u1');
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: last - from }, (_, i) => from + 1 + i));
    expect(got.map((m) => m.data.id)).toEqual(await notificationIds('user:u1', from, last));
    await closed(client);
  });

  it('(c) counts local subscribers: the tracked count goes down when the last one unsubscribes or leaves', async () => {
    await waitFor('nothing tracked', async () => ((await trackedUsers()) === 0 ? true : undefined), SLOW_MS);
    const tab1 = await connect('u2');
    const tab2 = await connect('u2');
    const other = await connect('u3');
    for (const [client, channel] of [[tab1, 'user:u2'], [tab2, 'user:u2'], [other, 'user:u3']] as const) {
      client.send({ action: 'subscribe', channels: [channel] });
      await client.next((m) => m.type === 'subscribed', SLOW_MS);
    }
    expect(await trackedUsers()).toBe(2);
    tab1.send({ action: 'unsubscribe', channels: ['user:u2'] });
    await tab1.next((m) => m.type === 'unsubscribed', SLOW_MS);
    expect(await trackedUsers()).toBe(2); // tab2 still follows user:u2
    await notify(['u2', 'u3']);
    await caughtUp(tab2, 'user:u2');
    await caughtUp(other, 'user:u3');
    expect(events(tab1, 'user:u2')).toEqual([]);
    await closed(tab2);
    await waitFor('user:u2 forgotten', async () => ((await trackedUsers()) === 1 ? true : undefined), SLOW_MS);
    other.send({ action: 'unsubscribe', channels: ['user:u3'] });
    await other.next((m) => m.type === 'unsubscribed', SLOW_MS);
    expect(await trackedUsers()).toBe(0);
    await Promise.all([closed(tab1), closed(other)]);
  });

  it('(b, SSE) resume by Last-Event-ID on /sse: exactly the missed events; the stream is forgotten when the response ends', async () => {
    await waitFor('nothing tracked', async () => ((await trackedUsers()) === 0 ? true : undefined), SLOW_MS);
    await burst('u4', 3);
    const from = await head('user:u4');
    await burst('u4', 10);
    const abort = new AbortController();
    const res = await fetch(`${base}/sse?channels=user:u4&token=${await token('u4', 600)}`, {
      headers: { 'Last-Event-ID': `user:u4@${from}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const racing = burst('u4', 10);
    const reader = res.body!.getReader();
    const seqs: number[] = [];
    let text = '';
    await racing;
    const last = await head('user:u4');
    while (seqs.at(-1) !== last) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      const chunks = text.split('\n\n');
      text = chunks.pop()!;
      for (const chunk of chunks) {
        const data = chunk.split('\n').find((line) => line.startsWith('data: '));
        const message = data && JSON.parse(data.slice(6));
        if (message?.stream === 'user:u4') seqs.push(message.seq);
      }
    }
    expect(seqs).toEqual(Array.from({ length: last - from }, (_, i) => from + 1 + i));
    expect(await trackedUsers()).toBe(1);
    abort.abort();
    await waitFor('user:u4 forgotten', async () => ((await trackedUsers()) === 0 ? true : undefined), SLOW_MS);
  });

  it('(d) events for 10,000 other users are dropped on arrival and do not grow what the gateway keeps', async () => {
    const client = await connect('u1');
    client.send({ action: 'subscribe', channels: ['user:u1'] });
    await client.next((m) => m.type === 'subscribed', SLOW_MS);
    const matchStreams = await metric('matchcast_gateway_tracked_streams', 'kind="match"');
    const untrackedBefore = await metric('matchcast_gateway_untracked_events_total');
    const others = Array.from({ length: 10_000 }, (_, i) => `other${i}`);
    for (let i = 0; i < others.length; i += 2_500) await notify(others.slice(i, i + 2_500));
    await notify(['u1']);
    await caughtUp(client, 'user:u1');
    await waitFor('10,000 untracked events', async () =>
      (await metric('matchcast_gateway_untracked_events_total')) - untrackedBefore >= 10_000 ? true : undefined, SLOW_MS);
    expect(await trackedUsers()).toBe(1);
    expect(await metric('matchcast_gateway_tracked_streams', 'kind="match"')).toBe(matchStreams);
    expect(events(client, 'user:u1')).toHaveLength(1);
    expect(client.messages.filter((m) => m.stream && m.stream !== 'user:u1')).toEqual([]);
    await closed(client);
  });

  it("lives as long as the door accepts its token: one past its exp but within the clock tolerance (5 s) gets its notifications until exp + tolerance, then 4001", async () => {
    // Let in at the door (jose's tolerance), this connection was closed the moment it opened.
    const late = new TestClient(`${url}?token=${await token('tolerated', -2)}`);
    await late.opened();
    late.send({ action: 'subscribe', channels: ['user:tolerated'] });
    await late.next((m) => m.type === 'subscribed');
    await notify(['tolerated']);
    await late.next((m) => m.type === 'notification' && m.stream === 'user:tolerated');
    const at = Date.now();
    expect(await late.closed).toEqual({ code: 4001, reason: 'TOKEN_EXPIRED' });
    expect(Date.now() - at).toBeGreaterThan(500);
  });
});
