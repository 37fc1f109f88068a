/**
 * SSE position tokens on a running gateway: the Last-Event-ID alone resumes every stream of
 * the connection exactly (no resume in the URL, as a browser's EventSource reconnects), and a
 * forged, corrupt or foreign token is refused with BAD_POSITION_TOKEN before the stream
 * starts, while every other client goes on.
 */
import { randomBytes } from 'node:crypto';
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import type { SseClient } from '../src/transport/sse';
import { PositionTokens } from '../src/transport/sse-positions';
import { SseStream } from './sse-support';
import { TEST_SECRET, TestClient, token } from './support';

const KEY = 'an-sse-position-key-for-tests-only-0123456789';

describe('SSE position tokens on a running gateway', () => {
  let server: PostgresServer;
  let db: pg.Client;
  let gateway: Gateway;
  let base: string;
  const streams: SseStream[] = [];

  const open = (query: string, lastEventId?: string) => {
    const stream = new SseStream(`${base}/sse?${query}`, lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId });
    streams.push(stream);
    return stream;
  };
  const score = (match: string) => db.query(`UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = $1`, [match]);
  const outbox = async (stream: string, after: number) =>
    (await db.query<{ seq: number }>('SELECT seq::int FROM outbox WHERE stream = $1 AND seq > $2 ORDER BY seq', [stream, after])).rows.map((r) => r.seq);
  const head = async (stream: string) => (await db.query<{ seq: number }>('SELECT coalesce(max(seq), 0)::int AS seq FROM outbox WHERE stream = $1', [stream])).rows[0]!.seq;
  const seqs = (stream: SseStream, name: string) => stream.streamEvents.filter((e) => e.stream === name).map((e) => e.seq as number);

  beforeAll(async () => {
    server = await new PostgresServer().start();
    db = new pg.Client(server.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
        ('a', 'epl', 'ars', 'che', now(), 'live'), ('b', 'epl', 'ars', 'che', now(), 'live'),
        ('c', 'epl', 'ars', 'che', now(), 'live'), ('d', 'epl', 'ars', 'che', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('a'), ('b'), ('c'), ('d')`);
    const config = loadConfig(new EnvReader({ DATABASE_URL: server.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', SSE_POSITION_KEY: KEY, AUTH_JWT_SECRET: TEST_SECRET }));
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    base = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await gateway?.close();
    await db?.end();
    await server?.destroy();
  });

  it('resumes every stream from the Last-Event-ID alone, even one that had no event yet', async () => {
    const starts = { a: await head('match:a'), b: await head('match:b'), c: await head('match:c') };
    const first = open('channels=match:a,match:b,match:c');
    await first.next((e) => e.json?.type === 'subscribed');
    // `subscribed` already carries a token: a reconnect before any event loses nothing.
    expect(first.lastEventId).toMatch(/^1:/);
    await score('a');
    await score('b');
    await score('a');
    await waitFor('three events', async () => (first.streamEvents.length === 3 ? true : undefined));
    first.close();
    // While it is away: more on a and b, and the first events ever seen of c.
    await score('b');
    await score('c');
    await score('a');
    await score('c');
    const second = open('channels=match:a,match:b,match:c', first.lastEventId);
    await second.next((e) => e.json?.type === 'resumed');
    await score('b');
    await waitFor('the live event after the replay', async () => (seqs(second, 'match:b').length === 2 ? true : undefined));
    for (const name of ['a', 'b', 'c'] as const) {
      const stream = `match:${name}`;
      expect([...seqs(first, stream), ...seqs(second, stream)]).toEqual(await outbox(stream, starts[name]));
    }
  });

  it('places a user stream once its head is learnt, and resumes it from the Last-Event-ID alone', async () => {
    const notify = () => db.query(`SELECT 1 FROM matchcast_notify_users($1::text[], 'Goal', 'message', 'goal', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, [['ua']]);
    await notify(); // history before the subscribe: not this connection's to receive
    const start = await head('user:ua');
    const query = `channels=user:ua,match:a&token=${await token('ua', 600)}`;
    const first = open(query);
    await first.next((e) => e.json?.type === 'subscribed');
    // The id-only block right after `subscribed` places the user stream at its head.
    await waitFor('the user stream in the token', async () => (first.lastEventId.includes(`uua~${start.toString(36)}`) ? true : undefined));
    first.close();
    for (let i = 0; i < 3; i++) await notify();
    const second = open(query, first.lastEventId);
    const missed = await outbox('user:ua', start);
    expect(missed).toHaveLength(3);
    await second.next((e) => e.json?.stream === 'user:ua' && e.json.seq === missed[2]);
    await second.next((e) => e.json?.type === 'resumed');
    expect(seqs(second, 'user:ua')).toEqual(missed);
  });

  it('covers streams it has not seen on channels that are not one stream (league) with `since`', async () => {
    const startD = await head('match:d');
    const first = open('channels=league:epl');
    await first.next((e) => e.json?.type === 'subscribed');
    const decoded = new PositionTokens(Buffer.from(KEY), { maxLength: 4096, maxItems: 100 }).decode(first.lastEventId);
    expect(decoded.sinceMs).toBeDefined();
    first.close();
    await score('d');
    const second = open('channels=league:epl', first.lastEventId);
    const missed = await outbox('match:d', startD);
    await second.next((e) => e.json?.stream === 'match:d' && e.json.seq === missed[missed.length - 1]);
    // Every missed event, in order, once; a stream first seen through `since` may start up to
    // its margin (5 s) before the subscribe, so events just older than it may come first.
    const got = seqs(second, 'match:d');
    expect(got.slice(-missed.length)).toEqual(missed);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => got[0]! + i));
  });

  it('never puts a `since` past the subscribe in the token: a future one would skip what a reconnect missed', async () => {
    const startD = await head('match:d');
    const before = Date.now();
    const first = open(`channels=league:epl&since=${encodeURIComponent('2099-01-01T00:00:00Z')}`);
    await first.next((e) => e.json?.type === 'resumed');
    const sinceMs = new PositionTokens(Buffer.from(KEY), { maxLength: 4096, maxItems: 100 }).decode(first.lastEventId).sinceMs!;
    expect(sinceMs).toBeGreaterThanOrEqual(before);
    expect(sinceMs).toBeLessThanOrEqual(Date.now());
    first.close();
    await score('d');
    // Longer than the `since` margin (5 s): a token still saying 2099 resumed from the reconnect less 5 s, past this event.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const second = open('channels=league:epl', first.lastEventId);
    await second.next((e) => e.json?.type === 'resumed');
    expect(seqs(second, 'match:d')).toEqual(await outbox('match:d', startD));
  });

  it('takes the older `<stream>@<seq>` id with a decimal seq only (an empty one replayed the stream from its start)', async () => {
    for (const lastEventId of ['match:a@', 'match:a@0x1', 'match:a@1e0', 'match:a@+1', 'match:a@1.0']) {
      // (A stream opened by mistake would never end: the time limit makes it a failure.)
      const res = await fetch(`${base}/sse?channels=match:a`, { headers: { 'Last-Event-ID': lastEventId }, signal: AbortSignal.timeout(5000) });
      expect([lastEventId, res.status, ((await res.json()) as { error: string }).error]).toEqual([lastEventId, 400, 'BAD_RESUME']);
    }
    const at = await head('match:a');
    await score('a');
    const resumed = open('channels=match:a', `match:a@${at}`);
    await resumed.next((e) => e.json?.type === 'resumed');
    expect(seqs(resumed, 'match:a')).toEqual(await outbox('match:a', at));
  });

  it('after a refused resume position (RESUME_TOO_OLD), the token holds where the stream went on live: a reconnect gets what it missed', async () => {
    const at = await head('match:a');
    const claim = encodeURIComponent(JSON.stringify({ 'match:a': at + 1000 })); // from another history: ahead of the head
    const first = open(`channels=match:a&resume=${claim}`);
    expect((await first.next((e) => e.json?.type === 'error')).json).toMatchObject({ code: 'RESUME_TOO_OLD', stream: 'match:a' });
    await first.next((e) => e.json?.type === 'resumed');
    first.close();
    await score('a'); // while it is away, before any event of the stream reached it
    const second = open('channels=match:a', first.lastEventId);
    await second.next((e) => e.json?.type === 'resumed');
    expect(second.events.filter((e) => e.json?.type === 'error')).toEqual([]);
    expect(seqs(second, 'match:a')).toEqual(await outbox('match:a', at));
  });

  it('holds no more streams than a token carries after seeing many, and resumes those it holds with no gap', async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `big${i}`);
    await db.query(`INSERT INTO league VALUES ('big', 'Big League'); INSERT INTO team (id, league_id, name) VALUES ('b1', 'big', 'B1'), ('b2', 'big', 'B2')`);
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) SELECT id, 'big', 'b1', 'b2', now(), 'live' FROM unnest($1::text[]) AS id`, [ids]);
    await db.query('INSERT INTO scoreboard (match_id) SELECT unnest($1::text[])', [ids]);
    const first = open('channels=all');
    await first.next((e) => e.json?.type === 'subscribed');
    for (const id of ids) await score(id);
    await waitFor('an event of every stream', async () => (ids.every((id) => seqs(first, `match:${id}`).length > 0) ? true : undefined));
    // The gateway's side of the connection: its positions stay within what one token carries (WS_MAX_CHANNELS).
    const connectionId = (await first.next((e) => e.json?.type === 'connection_status')).json.connection_id;
    const client = [...gateway.registry.clients()].find((c) => c.id === connectionId) as SseClient;
    expect(client.positions.size).toBe(100);
    const decoded = new PositionTokens(Buffer.from(KEY), { maxLength: 4096, maxItems: 100 }).decode(first.lastEventId);
    expect(decoded.positions.size).toBe(100);
    expect(decoded.sinceMs).toBeDefined();
    const held = `match:${ids.find((id) => decoded.positions.has(`match:${id}`))!}`;
    const dropped = `match:${ids.find((id) => !decoded.positions.has(`match:${id}`))!}`;
    first.close();
    for (const stream of [held, dropped, held, dropped]) await score(stream.slice('match:'.length));
    const second = open('channels=all', first.lastEventId);
    await second.next((e) => e.json?.type === 'resumed');
    // A stream the token holds: exactly what came after its position, once.
    expect(seqs(second, held)).toEqual(await outbox(held, decoded.positions.get(held)!));
    // One it dropped resumes from `since`: every missed event, in order, after some it already had.
    const missed = await outbox(dropped, seqs(first, dropped).at(-1)!);
    const got = seqs(second, dropped);
    expect(missed).toHaveLength(2);
    expect(got.slice(-missed.length)).toEqual(missed);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => got[0]! + i));
  });

  it('answers HEAD with the head only', async () => {
    const res = await fetch(`${base}/sse?channels=match:a`, { method: 'HEAD' });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8']);
    expect(await res.text()).toBe('');
  });

  it('refuses forged, corrupt, foreign and oversized tokens with BAD_POSITION_TOKEN; everyone else goes on', async () => {
    const bystander = open('channels=match:a');
    await bystander.next((e) => e.json?.type === 'subscribed');
    const ws = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await ws.opened();
    ws.send({ action: 'subscribe', channels: ['match:a'] });
    await ws.next((m) => m.type === 'subscribed');

    const victim = open('channels=match:a,match:b');
    await victim.next((e) => e.json?.type === 'subscribed');
    const genuine = victim.lastEventId;
    const foreign = (() => {
      const other = new PositionTokens(randomBytes(32), { maxLength: 4096, maxItems: 100 });
      const item = other.item('match:a', 0)!;
      return PositionTokens.format(item.prf, item.text);
    })();
    const forged = [
      genuine.replace(/ma~[0-9a-z]+/, 'ma~0'), // rewind match:a to replay it all
      genuine.replace(/mb~[0-9a-z]+/, 'mb~zz'),
      genuine.slice(0, -1),
      `${genuine},ua~1`,
      foreign,
      'garbage',
      `1:${'A'.repeat(22)}:${'ma~1,'.repeat(1000)}`,
    ];
    for (const lastEventId of forged) {
      const attempt = open('channels=match:a,match:b', lastEventId);
      await attempt.done;
      expect([attempt.status, attempt.body?.error]).toEqual([400, 'BAD_POSITION_TOKEN']);
    }
    // The genuine token still works, and the bystanders never noticed.
    const honest = open('channels=match:a,match:b', genuine);
    await honest.next((e) => e.json?.type === 'resumed');
    await score('a');
    const seq = await head('match:a');
    await bystander.next((e) => e.json?.seq === seq);
    await ws.next((m) => m.seq === seq);
    await honest.next((e) => e.json?.seq === seq && e.json?.stream === 'match:a');
    expect(bystander.ended).toBe(false);
    expect((await fetch(`http://127.0.0.1:${gateway.opsPort}/readyz`)).status).toBe(200);
    ws.ws.close();
  });
});
