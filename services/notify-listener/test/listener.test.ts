import { waitFor } from '@matchcast/testkit';
import { startListener, type RunningListener } from '../src/listener';
import { loadConfig } from '../src/config';
import { EnvReader } from '@matchcast/runtime';
import { migrate } from '@matchcast/db';
import {
  PostgresServer,
  RedisCollector,
  RedisServer,
  currentSeq,
  delay,
  getJson,
  range,
  scoreGoals,
  seed,
  testConfig,
  testLogger,
  withClient,
} from './support';

describe('config', () => {
  const base = { DATABASE_URL: 'postgres://u:p@db:5432/x', REDIS_URL: 'redis://redis:6379' };

  test('defaults: the seven domain channels, notification_change, standing_change, purchase_change, announcement_change, league_access_change and canary_change, 5 s reconnect, 250 ms heartbeat and the rest', () => {
    const config = loadConfig(new EnvReader(base));
    expect(config).toMatchObject({
      notifyChannels: [
        'matchdata_change',
        'match_change',
        'scoreboard_change',
        'playclock_change',
        'gameclock_change',
        'football_event_change',
        'player_match_change',
        'notification_change',
        'standing_change',
        'purchase_change',
        'announcement_change',
        'league_access_change',
        'canary_change',
      ],
      port: 8081,
      lockKey: 7246102,
      heartbeatIntervalMs: 250,
      reconnectDelayMs: 5000,
      standbyPollMs: 1000,
      redisCommandTimeoutMs: 500,
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
    });
    expect(config.listenerId).toMatch(new RegExp(`-${process.pid}$`));
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('a missing or bad variable fails with its name', () => {
    expect(() => loadConfig(new EnvReader({ REDIS_URL: base.REDIS_URL }))).toThrow(/DATABASE_URL/);
    expect(() => loadConfig(new EnvReader({ DATABASE_URL: base.DATABASE_URL }))).toThrow(/REDIS_URL/);
    expect(() => loadConfig(new EnvReader({ ...base, LISTENER_HEARTBEAT_INTERVAL_MS: 'soon' }))).toThrow(/LISTENER_HEARTBEAT_INTERVAL_MS/);
    expect(() => loadConfig(new EnvReader({ ...base, NOTIFY_CHANNELS: 'ok_change,bad;drop' }))).toThrow(/NOTIFY_CHANNELS/);
  });

  // Before: taken, and the leader LISTENed on a channel no trigger NOTIFYs: that table's events never reached Redis.
  test('NOTIFY_CHANNELS naming a channel nothing notifies fails with its name', () => {
    expect(() => loadConfig(new EnvReader({ ...base, NOTIFY_CHANNELS: 'match_change,scoreboard_chnage' }))).toThrow(
      /NOTIFY_CHANNELS has an entry that is not one of .*: "scoreboard_chnage"/,
    );
  });

  // Before: taken, and every gateway dropped each heartbeat (listener_id is malformed) and stayed on Postgres LISTEN for good.
  test('a LISTENER_ID longer than a heartbeat may carry is refused', () => {
    expect(() => loadConfig(new EnvReader({ ...base, LISTENER_ID: 'l'.repeat(201) }))).toThrow('invalid configuration: LISTENER_ID must be at most 200 characters (heartbeats carry it), got 201');
    expect(loadConfig(new EnvReader({ ...base, LISTENER_ID: 'l'.repeat(200) })).listenerId).toHaveLength(200);
  });
});

describe('notify-listener (in-process, real Postgres and Redis)', () => {
  let pgServer: PostgresServer;
  let redisServer: RedisServer;
  let collector: RedisCollector;
  let a: RunningListener;
  let b: RunningListener | undefined;

  beforeAll(async () => {
    [pgServer, redisServer] = await Promise.all([new PostgresServer().start(), new RedisServer().start()]);
    collector = await RedisCollector.start(redisServer.url);
    await withClient(pgServer.url, (client) => migrate(client)); // the listener reads the notification keys (018) before it LISTENs
    a = await startListener(testConfig(pgServer, redisServer, 'listener-a'), testLogger());
    await waitFor('listener a to lead', async () => (a.status().leader && a.status().redis ? true : undefined), 10_000);
    await seed(pgServer.url);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    collector?.close();
    await Promise.all([pgServer?.destroy(), redisServer?.destroy()]);
  });

  test('forwards every notification to pg_notify:events in commit order with the {channel, payload} envelope', async () => {
    await withClient(pgServer.url, async (client) => {
      await client.query("INSERT INTO gameclock (match_id, minute, period, running) VALUES ('m1', 1, 'first_half', true)");
      await client.query("UPDATE match SET status = 'live' WHERE id = 'm1'");
      await client.query("INSERT INTO playclock (match_id, seconds, running) VALUES ('m1', 61, true)");
      await client.query("INSERT INTO matchdata (match_id, venue) VALUES ('m1', 'Emirates Stadium')");
      await client.query("INSERT INTO player_match (match_id, player_id, team, player_name) VALUES ('m1', 'p9', 'home', 'Saka')");
      await client.query("INSERT INTO football_event (match_id, minute, type, team, player) VALUES ('m1', 12, 'goal', 'home', 'Saka')");
      await client.query("UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm1'");
    });
    await scoreGoals(pgServer.url, 30);

    const outbox = await withClient(pgServer.url, async (client) => {
      const { rows } = await client.query<{ id: string; seq: string; source: string }>(
        "SELECT id::text AS id, seq, source FROM outbox ORDER BY outbox.id",
      );
      return rows;
    });
    expect(outbox.length).toBe(40); // seed's league table (its teams), match and scoreboard inserts + 7 above + 30 goals
    await waitFor('all events on Redis', async () => (collector.events.length >= outbox.length ? true : undefined), 10_000);
    await delay(100);

    expect(collector.events.map((d) => [d.envelope.channel, d.event.id, d.event.seq])).toEqual(
      outbox.map((row) => [`${row.source}_change`, row.id, Number(row.seq)]),
    );
    // The envelope is exactly {channel, payload}, payload the raw NOTIFY text (an OutboxEvent).
    const first = JSON.parse(collector.raw[1]!) as Record<string, unknown>; // [0] is the seed's league table
    expect(Object.keys(first).sort()).toEqual(['channel', 'payload']);
    expect(typeof first.payload).toBe('string');
    const event = JSON.parse(first.payload as string) as Record<string, unknown>;
    expect(event).toMatchObject({ stream: 'match:m1', seq: 1, type: 'match_status', match_id: 'm1' });
    expect(JSON.parse(JSON.parse(collector.raw[0]!).payload)).toMatchObject({ stream: 'league:epl', seq: 1, type: 'league_table', match_id: null });
    const goal = collector.events.find((d) => d.envelope.channel === 'football_event_change')!;
    expect(goal.event.type).toBe('match_event');

    const metrics = await getJson(a.port, '/metrics');
    expect(metrics.body).toMatch(/matchcast_listener_notifications_forwarded_total\{service="notify-listener"\} 40/);
    expect(metrics.body).toMatch(/matchcast_listener_leader\{service="notify-listener"\} 1/);
  });

  test('the leader publishes a heartbeat about every 250 ms', async () => {
    const since = Date.now();
    await delay(1600);
    const beats = collector.heartbeatsFrom('listener-a', since);
    expect(beats.length).toBeGreaterThanOrEqual(5);
    expect(beats.length).toBeLessThanOrEqual(9);
    const gaps = beats.slice(1).map((beat, i) => beat.at - beats[i]!.at);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThan(100);
      expect(gap).toBeLessThan(500);
    }
    expect(beats.at(-1)!.heartbeat.published).toBe(40);
    expect(Math.abs(beats.at(-1)!.heartbeat.sent_at - beats.at(-1)!.at)).toBeLessThan(100);
  });

  test('with two listeners only the lock holder publishes: no duplicates; both are ready', async () => {
    b = await startListener(testConfig(pgServer, redisServer, 'listener-b', { LISTENER_STANDBY_POLL_MS: '200' }), testLogger());
    await waitFor('listener b to stand by', async () => (b!.status().pg === 'standby' && b!.status().redis ? true : undefined), 10_000);
    expect(b.status().leader).toBe(false);
    expect((await getJson(a.port, '/readyz')).status).toBe(200);
    const ready = await getJson(b.port, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ok', pg: 'standby', redis: true, leader: false });
    expect((await getJson(b.port, '/healthz')).status).toBe(200);

    const before = await currentSeq(pgServer.url);
    const since = Date.now();
    await scoreGoals(pgServer.url, 25);
    await waitFor('25 more events', async () => (collector.seqs().length >= before + 25 ? true : undefined), 10_000);
    await delay(300);
    expect(collector.seqs()).toEqual(range(1, before + 25));
    expect(collector.heartbeatsFrom('listener-b', since)).toEqual([]);
    expect((await getJson(b.port, '/metrics')).body).toMatch(/matchcast_listener_leader\{service="notify-listener"\} 0/);
  });

  test('a Redis kill and restart is survived: failed publishes are counted, forwarding resumes by itself', async () => {
    await redisServer.kill();
    await waitFor('a to see Redis down', async () => (!a.status().redis ? true : undefined), 5000);
    expect((await getJson(a.port, '/readyz')).status).toBe(503);
    const before = await currentSeq(pgServer.url);
    await scoreGoals(pgServer.url, 3); // published nowhere: gateways read these from the outbox
    await delay(100);
    expect((await getJson(a.port, '/metrics')).body).toMatch(/matchcast_listener_publish_failures_total\{service="notify-listener"\} 3/);

    await redisServer.start();
    await waitFor('the listener and the collector back on Redis', async () => (a.status().redis && collector.ready ? true : undefined), 5000);
    await delay(100); // the collector re-subscribes after its reconnect
    const received = collector.seqs().length;
    await scoreGoals(pgServer.url, 5);
    await waitFor('events after the restart', async () => (collector.seqs().length >= received + 5 ? true : undefined), 5000);
    expect(collector.seqs().slice(received)).toEqual(range(before + 4, before + 8));
    expect((await getJson(a.port, '/readyz')).status).toBe(200);
    // The heartbeat tells gateways that publishes were lost, so they catch up from the outbox.
    await waitFor('a heartbeat with the dropped count', async () => {
      const last = collector.heartbeatsFrom('listener-a', 0).at(-1);
      return last && last.heartbeat.dropped === 3 ? true : undefined;
    }, 3000);
  });

  test('a Postgres restart is survived: the LISTEN comes back and forwarding resumes without duplicates', async () => {
    await pgServer.restart();
    await waitFor(
      'a leader again',
      async () => ([a, b!].filter((l) => l.status().leader).length === 1 && a.status().pg !== 'connecting' && b!.status().pg !== 'connecting' ? true : undefined),
      10_000,
    );
    const before = await currentSeq(pgServer.url);
    const received = collector.seqs().length;
    await scoreGoals(pgServer.url, 10);
    await waitFor('events after the restart', async () => (collector.seqs().length >= received + 10 ? true : undefined), 10_000);
    await delay(300);
    expect(collector.seqs().slice(received)).toEqual(range(before + 1, before + 10));
    expect(new Set(collector.seqs()).size).toBe(collector.seqs().length);
  });

  test('forwards only what the outbox code signed: a NOTIFY from any role is counted and dropped, a genuine one goes on without its signature', async () => {
    const leader = [a, b!].find((l) => l.status().leader)!;
    const invalidCount = async () => Number(/matchcast_listener_invalid_notifications_total\{[^}]*\} (\d+)/.exec((await getJson(leader.port, '/metrics')).body)![1]);
    const invalidBefore = await invalidCount();
    const seq = (await currentSeq(pgServer.url)) + 1;
    const forged = JSON.stringify({ id: '999999', stream: 'match:m1', seq, type: 'score', timestamp: new Date().toISOString(), match_id: 'm1', data: { scoreboard: { home_score: 99 } } });
    const mac = 'A'.repeat(43) + '=';
    await withClient(pgServer.url, async (client) => {
      for (const payload of [forged, `${forged.slice(0, -1)},"mac":"1.${mac}"}`, `${forged.slice(0, -1)},"mac":"9.${mac}"}`]) {
        await client.query(`SELECT pg_notify('scoreboard_change', $1)`, [payload]);
      }
    });
    const received = collector.events.length;
    await scoreGoals(pgServer.url, 1);
    await waitFor('the genuine goal', async () => (collector.events.length > received ? true : undefined), 5000);
    await delay(100);
    expect(collector.events.slice(received).map((d) => [d.event.seq, d.event.id === '999999'])).toEqual([[seq, false]]);
    expect(collector.raw.at(-1)).not.toContain('"mac"');
    expect(await invalidCount()).toBe(invalidBefore + 3);
  });
});
