/**
 * 012: the match snapshot kept on the match stream's counter row. Whatever is written — events,
 * renames, privacy flips, deleted scoreboards, truncates — the state a match event carries is
 * what 002's six-table join gives at that moment; two writers at once give each event every
 * earlier event's changes; and appends are HOT updates.
 */
import { migrate, streamHeads } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

describe('012: match state on the stream counter', () => {
  let server: PostgresServer;
  let db: pg.Client;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    db = new pg.Client(server.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league (id, name) VALUES ('l', 'League'), ('k', 'Other');
      INSERT INTO team (id, league_id, name) VALUES ('h', 'l', 'Home'), ('a', 'l', 'Away'), ('x', 'k', 'Extra');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES
        ('m', 'l', 'h', 'a', '2026-11-30T15:00:00Z'), ('n', 'l', 'a', 'h', '2026-11-30T17:00:00Z')`);
  });

  afterAll(async () => {
    await db.end();
    await server.destroy();
  });

  /** The newest event of match:<id>, its data without what the event kind adds to the state. */
  async function lastState(id: string): Promise<Record<string, unknown>> {
    const { rows } = await db.query<{ data: Record<string, unknown> }>(
      `SELECT data - 'update_type' - 'event' - 'old_status' - 'match_date' - 'playclock' - 'matchdata' - 'player' AS data
         FROM outbox WHERE stream = $1 ORDER BY seq DESC LIMIT 1`,
      [`match:${id}`],
    );
    return rows[0]!.data;
  }

  const join = async (id: string) => (await db.query<{ s: unknown }>('SELECT matchcast_match_snapshot($1) AS s', [id])).rows[0]!.s;

  /** Writes, then an event on each match that changes nothing in the state: it must be the join's. */
  async function expectJoinAfter(sql: string): Promise<void> {
    await db.query(sql);
    for (const id of ['m', 'n']) {
      await db.query('UPDATE playclock SET seconds = seconds + 1 WHERE match_id = $1', [id]);
      expect(await lastState(id)).toEqual(await join(id));
    }
  }

  it('carries what the join gives after every kind of write', async () => {
    await db.query(`INSERT INTO playclock (match_id) VALUES ('m'), ('n')`);
    await expectJoinAfter(`INSERT INTO scoreboard (match_id) VALUES ('m'), ('n'); INSERT INTO gameclock (match_id) VALUES ('m'), ('n')`);
    await expectJoinAfter(`UPDATE match SET status = 'live' WHERE id = 'm'`);
    await expectJoinAfter(`UPDATE scoreboard SET home_score = 2 WHERE match_id = 'm'`);
    await expectJoinAfter(`UPDATE gameclock SET minute = 17, period = 'first_half' WHERE match_id = 'm'`);
    await expectJoinAfter(`INSERT INTO football_event (match_id, minute, type, team) VALUES ('m', 17, 'goal', 'home')`);
    await expectJoinAfter(`UPDATE team SET name = 'Home Renamed' WHERE id = 'h'`); // no event of its own
    await expectJoinAfter(`UPDATE league SET name = 'League Renamed' WHERE id = 'l'`);
    await expectJoinAfter(`UPDATE league SET private = true WHERE id = 'l'`);
    await expectJoinAfter(`UPDATE match SET away_team_id = 'x', league_id = 'k' WHERE id = 'n'`);
    await expectJoinAfter(`UPDATE match SET kickoff_at = '2026-11-30T18:00:00Z' WHERE id = 'n'`);
    await expectJoinAfter(`DELETE FROM scoreboard WHERE match_id = 'm'`); // back to 0-0 in the join
    await expectJoinAfter(`INSERT INTO scoreboard (match_id, away_score) VALUES ('m', 4)`);
    await expectJoinAfter(`TRUNCATE gameclock`);
    await expectJoinAfter(`INSERT INTO gameclock (match_id, minute, period) VALUES ('m', 60, 'second_half'), ('n', 1, 'first_half')`);
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM stream_counter WHERE stream LIKE 'match:%' AND state IS NULL`);
    expect(rows[0]!.n).toBe('0');
  });

  it("gives a writer that waited on another's commit that writer's changes too", async () => {
    const other = new pg.Client(server.url);
    await other.connect();
    try {
      await db.query(`UPDATE scoreboard SET home_score = 0, away_score = 0 WHERE match_id = 'm'`);
      await db.query('BEGIN');
      await db.query(`UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm'`); // holds the counter row
      const waiting = other.query(`UPDATE gameclock SET minute = 61 WHERE match_id = 'm'`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await db.query('COMMIT');
      await waiting;
      const { rows } = await db.query<{ seq: string; data: { score: unknown; minute: number } }>(
        `SELECT seq, data FROM outbox WHERE stream = 'match:m' ORDER BY seq DESC LIMIT 2`,
      );
      const [clock, score] = rows;
      expect(Number(clock!.seq)).toBe(Number(score!.seq) + 1);
      expect(clock!.data.score).toEqual({ home: 1, away: 0 }); // the join, read before the wait, said 0
      expect(clock!.data.minute).toBe(61);
    } finally {
      await other.end();
    }
  });

  it('makes appends HOT updates, and still finds streams that moved within a window', async () => {
    const counts = async () =>
      (await db.query<{ upd: string; hot: string }>(`SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'stream_counter'`)).rows[0]!;
    await db.query('SELECT pg_stat_force_next_flush()');
    const before = await counts();
    for (let i = 0; i < 200; i++) await db.query('UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = $1', [i % 2 ? 'm' : 'n']);
    await db.query('SELECT pg_stat_force_next_flush()');
    await db.query('SELECT 1'); // the flush happens when the previous statement's transaction ends
    const after = await counts();
    const updates = Number(after.upd) - Number(before.upd);
    expect(updates).toBeGreaterThanOrEqual(200);
    expect(Number(after.hot) - Number(before.hot)).toBeGreaterThan(updates * 0.9);

    // updated_at lags the last append by up to a second; a 100 ms window still finds the stream.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await db.query(`UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = 'm'`);
    const heads = await streamHeads(db, 100);
    const { rows } = await db.query<{ last_seq: number }>(`SELECT last_seq::int FROM stream_counter WHERE stream = 'match:m'`);
    expect(heads.get('match:m')).toBe(rows[0]!.last_seq);
  });

  it("refreshes the league's table for a finished match's new score only, once per transaction", async () => {
    const tables = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE stream = 'league:l'`)).rows[0]!.n);
    await db.query(`UPDATE match SET status = 'finished' WHERE id = 'm'`);
    const finished = await tables();
    await db.query(`UPDATE gameclock SET minute = 95 WHERE match_id = 'm'`); // not a result
    await db.query(`BEGIN; UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = 'm';
                    UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm'; COMMIT`);
    expect(await tables()).toBe(finished + 1);
    await db.query(`UPDATE match SET status = 'live' WHERE id = 'm'`); // no longer a result: the table changes
    const live = await tables();
    await db.query(`UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = 'm'`);
    expect(await tables()).toBe(live);
    expect((await db.query(`SELECT * FROM standing_due`)).rowCount).toBe(0);
  });
});
