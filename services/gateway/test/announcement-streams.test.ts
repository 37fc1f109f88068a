/**
 * Announcement streams on a real gateway and Postgres (its LISTEN path): team:<id> and all are
 * streams of their own (007_announcements.sql), resumable over WebSocket and SSE, and their
 * messages belong to the `announcements` topic.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { SseStream } from './sse-support';
import { TEST_SECRET, TestClient, token } from './support';

const SLOW_MS = 20_000;

describe('announcement streams on a gateway', () => {
  let postgres: PostgresServer;
  let db: pg.Pool;
  let gateway: Gateway;

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'Aston'), ('b', 'l', 'Bury');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now())`);
    const config = loadConfig(
      new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  /** As the API publishes one (the same function). */
  const announce = async (target: string, targetId: string | null, title: string): Promise<string> =>
    (await db.query(`SELECT announcement->>'id' AS id FROM matchcast_create_announcement($1, 'm', 'general', 'normal', $2, $3, NULL, NULL, 'root')`,
      [title, target, targetId])).rows[0].id;
  const connect = async (channels: string[]): Promise<TestClient> => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token('fan', 600)}`);
    await client.opened();
    client.send({ action: 'subscribe', channels });
    await client.next((m) => m.type === 'subscribed');
    return client;
  };
  const announcements = (events: any[]) => events.filter((m) => m.type?.startsWith('announcement'));

  it('delivers announcements on the announcements topic of league, team and all, and nothing else there', async () => {
    const client = await connect(['league:l/announcements', 'team:a/announcements', 'all/announcements']);
    const ids = [await announce('league', 'l', 'L'), await announce('team', 'a', 'T'), await announce('everyone', null, 'E')];
    // A result on the same league: a league_table (results topic) that must not reach the announcements topic.
    await db.query(`BEGIN; INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('m1', 1, 0); UPDATE match SET status = 'finished' WHERE id = 'm1'; COMMIT`);
    // Order holds within a stream, not across: wait for each of the three, then for anything extra.
    for (const id of ids) await client.next((m) => m.type === 'announcement' && m.data.id === id, SLOW_MS);
    await new Promise((r) => setTimeout(r, 300));
    // Three streams: order holds within each, not across them.
    expect(client.messages.filter((m) => m.seq !== undefined).map((m) => [m.type, m.channel, m.data.id]).sort()).toEqual([
      ['announcement', 'all/announcements', ids[2]],
      ['announcement', 'league:l/announcements', ids[0]],
      ['announcement', 'team:a/announcements', ids[1]],
    ]);
    client.ws.close();
  });

  it('resumes team and all streams over WebSocket: exactly the missed ones', async () => {
    const first = await connect(['team:b', 'all']);
    const seenTeam = await announce('team', 'b', 'first');
    const seenAll = await announce('everyone', null, 'first');
    // Order holds within a stream, not across: wait for both (a stream's first event is read from the outbox).
    await first.next((m) => m.data?.id === seenTeam, SLOW_MS);
    await first.next((m) => m.data?.id === seenAll, SLOW_MS);
    const positions = Object.fromEntries(announcements(first.messages).map((m) => [m.stream, m.seq]));
    expect(Object.keys(positions).sort()).toEqual(['all', 'team:b']);
    expect(announcements(first.messages).map((m) => m.data.id).sort()).toEqual([seenTeam, seenAll].sort());
    first.ws.close();
    const missed = [await announce('team', 'b', 'missed'), await announce('everyone', null, 'missed')];
    const back = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token('fan', 600)}`);
    await back.opened();
    back.send({ action: 'subscribe', channels: ['team:b', 'all'], resume: positions });
    await back.next((m) => m.type === 'resumed', SLOW_MS);
    await new Promise((r) => setTimeout(r, 300));
    // Replays run stream after stream, in the order of `resume`: order holds within each stream.
    expect(announcements(back.messages).map((m) => [m.stream, m.seq, m.data.id]).sort()).toEqual([
      ['all', positions.all + 1, missed[1]],
      ['team:b', positions['team:b'] + 1, missed[0]],
    ]);
    back.ws.close();
  });

  it('resumes a team stream over SSE from the position token alone: the missed ones once each, none again', async () => {
    const base = `http://127.0.0.1:${gateway.port}/sse?channels=team:a&token=${await token('fan', 600)}`;
    const first = new SseStream(base);
    await first.next((e) => e.json?.type === 'subscribed');
    const seen = await announce('team', 'a', 'before');
    await first.next((e) => e.json?.type === 'announcement' && e.json.data.id === seen, SLOW_MS);
    first.close();
    await first.done;
    expect(first.lastEventId).toMatch(/(^|[:,])ta~/);
    const missed = [await announce('team', 'a', 'missed 1'), await announce('team', 'a', 'missed 2')];
    const second = new SseStream(base, { 'Last-Event-ID': first.lastEventId });
    await second.next((e) => e.json?.data?.id === missed[1], SLOW_MS);
    await new Promise((r) => setTimeout(r, 300));
    expect(announcements(second.streamEvents).map((m) => m.data.id)).toEqual(missed);
    second.close();
    await second.done;
  });
});
