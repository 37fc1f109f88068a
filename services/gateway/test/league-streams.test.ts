/**
 * League streams and schedule changes against a real gateway and Postgres (its LISTEN path):
 * league:<id> is a stream of its own (league_table, recomputed by 005's triggers) as well as the
 * channel its matches' events reach; schedule_update travels like every match event.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { SseStream } from './sse-support';
import { TEST_SECRET, TestClient, token } from './support';

const SLOW_MS = 20_000;

describe('league streams and schedule_update on a gateway', () => {
  let postgres: PostgresServer;
  let db: pg.Pool;
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'Aston'), ('b', 'l', 'Bury'), ('c', 'l', 'Crewe');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES
        ('m1', 'l', 'a', 'b', '2026-01-01T15:00Z'), ('m2', 'l', 'b', 'c', '2026-01-02T15:00Z'), ('m3', 'l', 'c', 'a', '2026-01-03T15:00Z'),
        ('m4', 'l', 'a', 'c', '2026-01-04T15:00Z')`);
    const config = loadConfig(
      new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    url = `ws://127.0.0.1:${gateway.port}/ws`;
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  const connect = async (channels: string[], extra: Record<string, unknown> = {}): Promise<TestClient> => {
    const client = new TestClient(`${url}?token=${await token('fan', 600)}`);
    await client.opened();
    client.send({ action: 'subscribe', channels, ...extra });
    await client.next((m) => m.type === 'subscribed');
    return client;
  };
  const finish = (id: string, home: number, away: number) =>
    db.query(`BEGIN; INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('${id}', ${home}, ${away})
                ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score, away_score = EXCLUDED.away_score;
              UPDATE match SET status = 'finished' WHERE id = '${id}'; COMMIT`);
  const head = async (stream: string): Promise<number> =>
    (await db.query<{ s: number }>('SELECT last_seq::int AS s FROM stream_counter WHERE stream = $1', [stream])).rows[0]?.s ?? 0;
  const tables = (client: TestClient) => client.messages.filter((m) => m.type === 'league_table');
  const points = (message: any) => message.data.rows.map((r: any) => [r.team.id, r.points]);
  const untilTables = (client: TestClient, seq: number) =>
    waitFor(`league:l@${seq}`, async () => (tables(client).at(-1)?.seq === seq ? true : undefined), SLOW_MS);

  it('delivers one league_table per change, in order, on league:<id> only, and resumes it', async () => {
    const league = await connect(['league:l']);
    const match = await connect(['match:m1', 'all']);
    const start = await head('league:l');
    await finish('m1', 2, 0);
    await finish('m2', 1, 1);
    await db.query(`UPDATE scoreboard SET home_score = 0, away_score = 3 WHERE match_id = 'm1'`); // a corrected score
    await db.query(`DELETE FROM match WHERE id = 'm2'`); // a finished match deleted
    await untilTables(league, start + 4);
    const received = tables(league);
    expect(received.map((m) => [m.seq, m.channel, m.stream, m.match_id])).toEqual(
      [1, 2, 3, 4].map((i) => [start + i, 'league:l', 'league:l', null]),
    );
    expect(received.map(points)).toEqual([
      [['a', 3], ['c', 0], ['b', 0]], // c above b on goal difference
      [['a', 3], ['c', 1], ['b', 1]],
      [['b', 4], ['c', 1], ['a', 0]],
      [['b', 3], ['c', 0], ['a', 0]],
    ]);
    // The league channel also has its matches' events; match and `all` never get league_table.
    expect(league.messages.some((m) => m.type === 'match_status' && m.channel === 'league:l')).toBe(true);
    await waitFor('match events', async () => (match.messages.some((m) => m.type === 'schedule_update') ? true : undefined), SLOW_MS);
    expect(tables(match)).toEqual([]);

    // Away for two changes, then back with resume: exactly the missed ones.
    const lastSeen = received.at(-1).seq;
    league.ws.close();
    await league.closed;
    await finish('m3', 1, 1);
    await finish('m4', 0, 1);
    const back = await connect(['league:l'], { resume: { 'league:l': lastSeen } });
    await untilTables(back, lastSeen + 2);
    expect(tables(back).map((m) => m.seq)).toEqual([lastSeen + 1, lastSeen + 2]);
    await back.next((m) => m.type === 'resumed');

    // A client that only knows when it left (`since`) gets the league stream's events after it too.
    const since = new Date(Date.now() - 60_000).toISOString();
    const late = await connect(['league:l'], { since });
    await untilTables(late, lastSeen + 2);
    expect(tables(late).map((m) => m.seq)).toEqual(Array.from({ length: lastSeen + 2 }, (_, i) => i + 1));
    for (const client of [match, back, late]) client.ws.close();
  });

  it('sends schedule_update for each change kind to the match, league and both team channels', async () => {
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('s1', 'l', 'a', 'b', '2026-05-01T15:00Z')`);
    const watchers = await Promise.all(['match:s1', 'league:l', 'team:a', 'team:b'].map((name) => connect([name])));
    const other = await connect(['team:c']);
    await db.query(`UPDATE match SET kickoff_at = '2026-05-02T19:45Z' WHERE id = 's1'`);
    await db.query(`UPDATE match SET status = 'postponed' WHERE id = 's1'`);
    await db.query(`UPDATE match SET status = 'cancelled' WHERE id = 's1'`);
    await db.query(`DELETE FROM match WHERE id = 's1'`);
    const changes = (client: TestClient) => client.messages.filter((m) => m.type === 'schedule_update' && m.match_id === 's1');
    for (const [i, client] of watchers.entries()) {
      await waitFor('four schedule updates', async () => (changes(client).length === 4 ? true : undefined), SLOW_MS);
      expect(changes(client).map((m) => [m.data.change, m.data.new_status, m.channel])).toEqual([
        ['rescheduled', 'scheduled', ['match:s1', 'league:l', 'team:a', 'team:b'][i]],
        ['postponed', 'postponed', ['match:s1', 'league:l', 'team:a', 'team:b'][i]],
        ['cancelled', 'cancelled', ['match:s1', 'league:l', 'team:a', 'team:b'][i]],
        ['deleted', null, ['match:s1', 'league:l', 'team:a', 'team:b'][i]],
      ]);
      expect(changes(client).map((m) => m.seq)).toEqual([...changes(client).map((m) => m.seq)].sort((x, y) => x - y));
    }
    expect(changes(other)).toEqual([]);
    for (const client of [...watchers, other]) client.ws.close();
  });

  it("resumes a league stream over SSE from the position token alone: the missed tables once each, none again", async () => {
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES
      ('n1', 'l', 'a', 'b', now()), ('n2', 'l', 'b', 'c', now()), ('n3', 'l', 'c', 'a', now())`);
    const base = `http://127.0.0.1:${gateway.port}/sse?channels=league:l&token=${await token('fan', 600)}`;
    const first = new SseStream(base);
    await first.next((e) => e.json?.type === 'subscribed');
    await finish('n1', 1, 0);
    const seen = await first.next((e) => e.json?.type === 'league_table');
    // Wait for the match events of that commit too, so the token covers everything sent so far.
    await new Promise((r) => setTimeout(r, 300));
    first.close();
    await first.done;
    await finish('n2', 2, 2);
    await finish('n3', 0, 4);
    const second = new SseStream(base, { 'Last-Event-ID': first.lastEventId });
    const upTo = seen.json.seq + 2;
    await second.next((e) => e.json?.type === 'league_table' && e.json.seq === upTo, SLOW_MS);
    await new Promise((r) => setTimeout(r, 300));
    expect(second.streamEvents.filter((m) => m.type === 'league_table').map((m) => m.seq)).toEqual([upTo - 1, upTo]);
    second.close();
    await second.done;
  });
});
