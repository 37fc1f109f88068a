/**
 * Topic channels (`<channel>/<topic>`) on a real gateway fed the production way: Postgres
 * triggers → NOTIFY → notify-listener → Redis → gateway. Each topic channel gets its topic's
 * messages only, a client on a channel and its topic gets each event once, and resume, `since`
 * and SSE position tokens work as on base channels (streams are the same; only routing differs).
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, RedisServer, deliveringThrough, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig as loadListenerConfig } from '../../notify-listener/src/config';
import { startListener, type RunningListener } from '../../notify-listener/src/listener';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, token } from './support';

const SLOW_MS = 20_000;
const LIVE = ['match_update', 'match_event', 'match_status'];

describe('topic channels on a gateway fed through Redis', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let db: pg.Pool;
  let listener: RunningListener;
  let gateway: Gateway;
  let base: string;
  let url: string;

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([new PostgresServer().start(), new RedisServer().start()]);
    db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'Aston'), ('b', 'l', 'Bury'), ('c', 'l', 'Crewe'), ('d', 'l', 'Derby');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES
        ('m1', 'l', 'a', 'b', '2026-01-01T15:00Z'), ('m2', 'l', 'c', 'd', '2026-01-02T15:00Z'), ('m3', 'l', 'c', 'a', '2026-01-03T15:00Z')`);
    const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
    listener = await startListener(loadListenerConfig(new EnvReader({ ...env, LISTENER_PORT: '0', LISTENER_HOST: '127.0.0.1', LISTENER_HEARTBEAT_INTERVAL_MS: '100' })), createLogger('listener', 'silent'));
    gateway = await startGateway(loadConfig(new EnvReader({ ...env, AUTH_JWT_SECRET: TEST_SECRET })), createLogger('gateway', 'silent'));
    base = `http://127.0.0.1:${gateway.port}`;
    url = `ws://127.0.0.1:${gateway.port}/ws`;
  });

  afterAll(async () => {
    await gateway?.close();
    await listener?.close();
    await db?.end();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  const connect = async (channels: string[], extra: Record<string, unknown> = {}): Promise<TestClient> => {
    const client = new TestClient(`${url}?token=${await token('fan', 600)}`);
    await client.opened();
    client.send({ action: 'subscribe', channels, ...extra });
    await client.next((m) => m.type === 'subscribed' || m.type === 'error');
    return client;
  };
  const events = (client: TestClient) => client.messages.filter((m) => typeof m.seq === 'number');
  const summary = (client: TestClient) => events(client).map((m) => `${m.type} ${m.stream}@${m.seq} on ${m.channel}`);
  const head = async (stream: string): Promise<number> =>
    (await db.query<{ s: number }>('SELECT last_seq::int AS s FROM stream_counter WHERE stream = $1', [stream])).rows[0]?.s ?? 0;
  const score = (id: string, home: number, away: number) =>
    db.query(`INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ($1, $2, $3)
              ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score, away_score = EXCLUDED.away_score`, [id, home, away]);
  const status = (id: string, value: string) => db.query('UPDATE match SET status = $2 WHERE id = $1', [id, value]);
  const reschedule = (id: string, at: string) => db.query('UPDATE match SET kickoff_at = $2 WHERE id = $1', [id, at]);
  const until = (what: string, check: () => boolean) => waitFor(what, async () => (check() ? true : undefined), SLOW_MS);
  const metric = async (name: string, label: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.opsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name + '{') && l.includes(label));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };

  it('delivers only the topic’s messages on a topic channel, once to a client on a channel and its topic', async () => {
    await deliveringThrough(`http://127.0.0.1:${gateway.opsPort}`, 'redis', SLOW_MS);
    const schedule = await connect(['league:l/schedule']);
    const live = await connect(['match:m1/live']);
    const results = await connect(['league:l/results', 'team:a/results']);
    const both = await connect(['league:l', 'league:l/schedule', 'all/live']);
    const everything = await connect(['all', 'league:l']);

    await status('m1', 'live');
    await score('m1', 1, 0);
    await reschedule('m2', '2026-01-02T19:45Z');
    await status('m2', 'postponed');
    await status('m1', 'finished'); // the final whistle, and league:l's new table
    const last = await head('league:l');
    await until('every event', () => events(everything).some((m) => m.type === 'league_table' && m.seq === last) && events(everything).filter((m) => m.match_id === 'm2').length >= 4);
    await until('the topic clients', () => events(results).some((m) => m.type === 'league_table') && events(schedule).length >= 2);

    expect(events(schedule).every((m) => m.type === 'schedule_update' && m.channel === 'league:l/schedule' && m.match_id === 'm2')).toBe(true);
    expect(events(schedule).map((m) => m.data.change)).toEqual(['rescheduled', 'postponed']);

    expect(events(live).length).toBeGreaterThanOrEqual(3);
    expect(events(live).every((m) => LIVE.includes(m.type) && m.channel === 'match:m1/live' && m.stream === 'match:m1')).toBe(true);
    expect(events(live).at(-1)).toMatchObject({ type: 'match_status', data: { status: 'finished' } });

    // results: the final whistle (once, on team a's results: the most specific) and the table; nothing live, nothing of the schedule.
    expect(summary(results).filter((s) => !s.startsWith('league_table'))).toEqual(
      events(results).filter((m) => m.type !== 'league_table').map((m) => `${m.type} match:m1@${m.seq} on team:a/results`),
    );
    expect(events(results).some((m) => m.type === 'match_status')).toBe(true);
    expect(events(results).every((m) => m.type === 'league_table' || m.data.status === 'finished')).toBe(true);
    expect(events(results).find((m) => m.type === 'league_table')).toMatchObject({ stream: 'league:l', channel: 'league:l/results' });

    // On a channel and its topics: each event once, on the most specific channel subscribed.
    const keys = events(both).map((m) => `${m.stream}@${m.seq}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.sort()).toEqual(events(everything).filter((m) => m.channel === 'league:l').map((m) => `${m.stream}@${m.seq}`).sort());
    for (const m of events(both)) {
      expect([m.type, m.channel]).toEqual([m.type, m.type === 'schedule_update' ? 'league:l/schedule' : 'league:l']);
    }
    expect(await metric('matchcast_gateway_broker_mode', 'mode="redis"')).toBe(1);
    for (const client of [schedule, live, results, both, everything]) client.ws.close();
  });

  it('resumes a topic channel from its stream: only the missed messages of that topic', async () => {
    await status('m3', 'live');
    const live = await connect(['match:m3/live']);
    await score('m3', 1, 0);
    await until('the first goal', () => events(live).length === 1);
    const seen = events(live)[0].seq;
    live.ws.close();
    await live.closed;

    await score('m3', 2, 0);
    await reschedule('m3', '2026-01-03T16:00Z'); // schedule, not live: not replayed to this client
    await score('m3', 2, 1);
    const top = await head('match:m3');

    // What was missed: every row of the stream after `seen` but the schedule_update (the reschedule's match_update is live).
    const missed = await db.query<{ type: string; seq: number }>(
      `SELECT type, seq::int FROM outbox WHERE stream = 'match:m3' AND seq > $1 AND type <> 'schedule_update' ORDER BY seq`, [seen]);
    expect(missed.rows.length).toBeGreaterThanOrEqual(2);
    const back = await connect(['match:m3/live'], { resume: { 'match:m3': seen } });
    await back.next((m) => m.type === 'resumed', SLOW_MS);
    await until('the missed live events', () => events(back).some((m) => m.seq === top));
    expect(events(back).map((m) => [m.type, m.seq, m.channel])).toEqual(missed.rows.map((r) => [r.type, r.seq, 'match:m3/live']));
    expect((await db.query(`SELECT 1 FROM outbox WHERE stream = 'match:m3' AND seq > $1 AND type = 'schedule_update'`, [seen])).rowCount).toBe(1);

    // `since` on a league's results topic replays its league_table stream too.
    const late = await connect(['league:l/results'], { since: new Date(Date.now() - 60_000).toISOString() });
    const tableHead = await head('league:l');
    await until('the league tables', () => events(late).some((m) => m.type === 'league_table' && m.seq === tableHead));
    expect(events(late).every((m) => m.type === 'league_table' || m.data.status === 'finished')).toBe(true);
    for (const client of [back, late]) client.ws.close();
  });

  it('streams a topic channel over SSE, and its position token resumes it', async () => {
    await status('m2', 'scheduled');
    const open = async (lastEventId?: string) => {
      const controller = new AbortController();
      const response = await fetch(`${base}/sse?channels=match:m2/schedule&token=${await token('fan', 600)}`, {
        headers: lastEventId ? { 'last-event-id': lastEventId } : {},
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const received: { id: string; message: any }[] = [];
      let buffer = '';
      void (async () => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
          if (done) return;
          buffer += Buffer.from(value!).toString();
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (id && data) received.push({ id, message: JSON.parse(data) });
          }
        }
      })();
      return { received, close: () => controller.abort() };
    };
    const first = await open();
    await new Promise((r) => setTimeout(r, 300));
    await score('m2', 1, 1); // live, not schedule
    await reschedule('m2', '2026-01-09T15:00Z');
    await until('the first schedule change', () => first.received.some((r) => r.message.data?.new_kickoff_at?.startsWith('2026-01-09')));
    const token1 = first.received.filter((r) => r.message.seq !== undefined).at(-1)!.id;
    first.close();

    await reschedule('m2', '2026-01-10T15:00Z');
    await score('m2', 2, 1);
    await reschedule('m2', '2026-01-11T15:00Z');
    const second = await open(token1);
    await until('the two missed schedule changes', () => second.received.filter((r) => r.message.type === 'schedule_update').length >= 2);
    const got = second.received.filter((r) => r.message.seq !== undefined).map((r) => [r.message.type, r.message.data.new_kickoff_at?.slice(0, 10), r.message.channel]);
    expect(got).toEqual([
      ['schedule_update', '2026-01-10', 'match:m2/schedule'],
      ['schedule_update', '2026-01-11', 'match:m2/schedule'],
    ]);
    expect(first.received.filter((r) => r.message.seq !== undefined).every((r) => r.message.type === 'schedule_update')).toBe(true);
    second.close();
  });

  it('refuses bad topics with their codes and counts topic channels in the channel limit', async () => {
    const bad = await connect(['league:l/standings']);
    expect(bad.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNKNOWN_CHANNEL' });
    const malformed = await connect(['league:l/']);
    expect(malformed.messages.at(-1)).toMatchObject({ type: 'error', code: 'INVALID_CHANNEL' });
    const privateTopic = await connect(['user:fan/results']);
    expect(privateTopic.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNKNOWN_CHANNEL' });
    // 100 channels per connection (WS_MAX_CHANNELS): 50 bases and their 50 schedule topics fill it; one more topic is refused.
    const full = await connect([...Array.from({ length: 50 }, (_, i) => `team:t${i}`), ...Array.from({ length: 50 }, (_, i) => `team:t${i}/schedule`)]);
    expect(full.messages.at(-1)).toMatchObject({ type: 'subscribed' });
    full.send({ action: 'subscribe', channels: ['team:t0/results'] });
    await full.next((m) => m.type === 'error');
    expect(full.messages.at(-1)).toMatchObject({ type: 'error', code: 'TOO_MANY_CHANNELS' });
    for (const client of [bad, malformed, privateTopic, full]) client.ws.close();
  });
});
