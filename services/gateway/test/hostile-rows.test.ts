/**
 * Outbox rows that a database login with the crawler's rights wrote past the crawler's own
 * checks (its provider's values are checked; its login is not): a football_event whose `detail`
 * nests thousands of levels deep is a valid jsonb value (Postgres takes 10,000), and is signed and
 * delivered like any event, but JSON.stringify overflows the stack on it; one with a player name
 * of megabytes became an event of that size. Against real gateways on Postgres LISTEN, with and
 * without their memory of recent events.
 */
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, deliveringThrough, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, databaseWithCrawlerLogin, metricValue } from './support';

const DEPTH = 8000;

describe('an outbox event whose data nests too deep to serialize', () => {
  let database: Awaited<ReturnType<typeof databaseWithCrawlerLogin>>;
  let postgres: PostgresServer;
  let db: pg.Pool;
  let crawlerRole: pg.Client;
  /** With the memory of recent events (the default), and without it. */
  const gateways: Gateway[] = [];
  let head: number;

  const ops = (gateway: Gateway) => `http://127.0.0.1:${gateway.opsPort}`;
  const headOf = async () => Number((await db.query<{ last_seq: string }>(`SELECT last_seq FROM stream_counter WHERE stream = 'match:m1'`)).rows[0]!.last_seq);

  beforeAll(async () => {
    database = await databaseWithCrawlerLogin();
    ({ postgres, db, crawlerRole } = database);
    for (const history of ['1000', '0']) {
      const env = { DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, CANARY_INTERVAL_MS: '0', MEMORY_HISTORY_EVENTS_PER_STREAM: history };
      const gateway = await startGateway(loadConfig(new EnvReader(env)), createLogger('gateway', 'silent'));
      gateways.push(gateway);
      await deliveringThrough(ops(gateway), 'postgres');
    }
  });

  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await database?.end();
  });

  it('is skipped and counted; every subscriber keeps its connection and gets the events after it', async () => {
    const clients = await Promise.all(
      gateways.map(async (gateway) => {
        const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
        await client.opened();
        client.send({ action: 'subscribe', channels: ['match:m1'] });
        await client.next((m) => m.type === 'subscribed');
        return client;
      }),
    );
    head = await headOf();
    const deep = `{"x":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`;
    await crawlerRole.query(`INSERT INTO football_event (match_id, minute, type, team, detail) VALUES ('m1', 50, 'var', 'home', $1::jsonb)`, [deep]);
    await crawlerRole.query(`UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm1'`);
    expect(await headOf()).toBe(head + 2);

    for (const [index, client] of clients.entries()) {
      const next = await client.next((m) => m.stream === 'match:m1' && m.seq === head + 2);
      expect(next.data.score).toEqual({ home: 1, away: 0 });
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      expect(client.messages.filter((m) => m.type === 'error' || m.seq === head + 1)).toEqual([]);
      expect(await metricValue(ops(gateways[index]!), 'matchcast_gateway_events_undeliverable_total')).toBe(1);
      client.ws.close();
    }
  });

  it('is left out of a resume across it, which goes on to every event after it, with no error', async () => {
    for (const gateway of gateways) {
      const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
      await client.opened();
      client.send({ action: 'subscribe', channels: ['match:m1'], resume: { 'match:m1': head } });
      await client.next((m) => m.type === 'resumed');
      await client.next((m) => m.stream === 'match:m1' && m.seq === head + 2);
      expect(client.messages.filter((m) => m.type === 'error' || m.seq === head + 1)).toEqual([]);
      // Counted once, when it came live, not again per resume.
      expect(await metricValue(ops(gateway), 'matchcast_gateway_events_undeliverable_total')).toBe(1);
      client.ws.close();
    }
  });

  it('is refused at write when its JSON is past 64 KiB on a match stream (022_domain_row_limits): the row is not written, and subscribers go on', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateways[0]!.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    const before = await headOf();
    const goal = (player: string) =>
      crawlerRole.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ('m1', 60, 'goal', 'home', $1)`, [player]);
    await expect(goal('P'.repeat(2_000_000))).rejects.toMatchObject({ code: '54000', message: expect.stringMatching(/^event too large: match:m1 match_event is \d+ bytes of JSON \(at most 65536\)$/) });
    expect(await headOf()).toBe(before);
    expect((await db.query(`SELECT count(*)::int AS n FROM football_event WHERE length(player) > 1000000`)).rows[0].n).toBe(0);
    // Far larger than any real event, and within the limit: written and delivered as a reference.
    await goal('P'.repeat(60_000));
    const next = await client.next((m) => m.stream === 'match:m1' && m.seq === before + 1);
    expect(next.data.event.player).toHaveLength(60_000);
    client.ws.close();
  });

  it('is refused at write when a league table event is past 1 MiB (025_league_event_limit): the write is rolled back, and subscribers go on', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateways[0]!.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['league:l'] });
    await client.next((m) => m.type === 'subscribed');
    const leagueHead = async () => Number((await db.query(`SELECT last_seq FROM stream_counter WHERE stream = 'league:l'`)).rows[0]?.last_seq ?? 0);
    const before = await leagueHead();
    const team = (id: string, name: string) => crawlerRole.query(`INSERT INTO team (id, league_id, name) VALUES ($1, 'l', $2)`, [id, name]);
    // The table names every team: one name of megabytes made an event of that size for every subscriber of the league.
    await expect(team('huge', 'T'.repeat(2_000_000))).rejects.toMatchObject({ code: '54000', message: expect.stringMatching(/^event too large: league:l league_table is \d+ bytes of JSON \(at most 1048576\)$/) });
    expect(await leagueHead()).toBe(before);
    expect((await db.query(`SELECT count(*)::int AS n FROM team WHERE id = 'huge'`)).rows[0].n).toBe(0);
    // Within the limit: written, and delivered (as a reference to its row).
    await team('long', 'T'.repeat(60_000));
    const table = await client.next((m) => m.stream === 'league:l' && m.seq === before + 1);
    expect(table.data.rows.map((row: any) => row.team.id)).toContain('long');
    expect(client.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    client.ws.close();
  });

  it('cannot be made on a stream no channel names: league, team and match ids are refused unless a channel could name them (022_domain_row_limits)', async () => {
    const refused = { code: '23514' };
    await expect(crawlerRole.query(`INSERT INTO league VALUES ('bad league', 'L')`)).rejects.toMatchObject({ ...refused, constraint: 'league_id_format' });
    await expect(crawlerRole.query(`INSERT INTO team (id, league_id, name) VALUES ('t:1', 'l', 'T')`)).rejects.toMatchObject({ ...refused, constraint: 'team_id_format' });
    for (const id of ['bad id', 'm/1', 'x'.repeat(65), '']) {
      await expect(crawlerRole.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ($1, 'l', 'a', 'b', now())`, [id])).rejects.toMatchObject({ ...refused, constraint: 'match_id_format' });
      await expect(crawlerRole.query(`UPDATE match SET id = $1 WHERE id = 'm1'`, [id])).rejects.toMatchObject(refused);
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM stream_counter WHERE stream !~ '^[a-z]+:[A-Za-z0-9_.-]{1,64}$'`)).rows[0].n).toBe(0);
    await crawlerRole.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m-2.x_Y', 'l', 'a', 'b', now())`);
  });

  it('is passed over by a catch-up as live, when written before 022 on a stream no channel names: counted, and the gateway goes on', async () => {
    const gateway = gateways[0]!;
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['all', 'league:l'] });
    await client.next((m) => m.type === 'subscribed');
    const counted = () => metricValue(ops(gateway), 'matchcast_gateway_events_undeliverable_total');
    const catchUps = () => metricValue(ops(gateway), 'matchcast_gateway_catch_up_duration_seconds_count');
    const [undeliverableBefore, catchUpsBefore] = [await counted(), await catchUps()];
    // 022's id CHECKs are NOT VALID: a match written before it keeps its id, and its stream gets events.
    await db.query(`ALTER TABLE match DROP CONSTRAINT match_id_format`);
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('old id', 'l', 'a', 'b', now())`);
    await db.query(`UPDATE match SET status = 'live' WHERE id = 'old id'`);
    await db.query(`ALTER TABLE match ADD CONSTRAINT match_id_format CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$') NOT VALID`);
    // Its match's other rows are written as ever (no CHECK there).
    await crawlerRole.query(`INSERT INTO football_event (match_id, minute, type, team) VALUES ('old id', 5, 'goal', 'home')`);
    const rows = Number((await db.query(`SELECT count(*) AS n FROM outbox WHERE stream = 'match:old id'`)).rows[0].n);
    expect(rows).toBeGreaterThanOrEqual(3);
    // The live path dropped their notifications; a LISTEN connection lost and back catches up from the outbox.
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'matchcast-gateway-fallback'`);
    await waitFor('a catch-up', async () => ((await catchUps()) > catchUpsBefore ? true : undefined), 20_000);
    await db.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm1'`);
    await client.next((m) => m.stream === 'match:m1' && m.data?.score?.away === 1, 10_000);
    expect(client.messages.filter((m) => m.stream === 'match:old id' || m.type === 'error')).toEqual([]);
    expect((await counted()) - undeliverableBefore).toBe(rows);
    client.ws.close();
  });
});
