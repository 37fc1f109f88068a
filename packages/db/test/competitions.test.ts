import { migrate, readStream } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

type Row = { position: number; team: { id: string }; played: number; won: number; drawn: number; lost: number; goals_for: number; goals_against: number; goal_difference: number; points: number };

/** The table as compact tuples: team, played, won, drawn, lost, gf, ga, gd, points (in position order). */
const compact = (rows: Row[]) => rows.map((r) => [r.team.id, r.played, r.won, r.drawn, r.lost, r.goals_for, r.goals_against, r.goal_difference, r.points]);

describe('005 competitions: standings and schedule changes', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    pool = new pg.Pool({ connectionString: server.url });
    const client = await pool.connect();
    await migrate(client);
    client.release();
    await pool.query(`INSERT INTO league VALUES ('l', 'League'), ('other', 'Other');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'Aston'), ('b', 'l', 'Bury'), ('c', 'l', 'Crewe'), ('d', 'l', 'Derby'), ('x', 'other', 'X'), ('y', 'other', 'Y');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES
        ('m1', 'l', 'a', 'b', '2026-01-01T15:00Z'), ('m2', 'l', 'c', 'd', '2026-01-01T15:00Z'),
        ('m3', 'l', 'b', 'c', '2026-01-08T15:00Z'), ('m4', 'l', 'd', 'a', '2026-01-08T15:00Z'),
        ('o1', 'other', 'x', 'y', '2026-01-08T15:00Z')`);
  });

  afterAll(async () => {
    await pool.end();
    await server.destroy();
  });

  const tableEvents = async (league = 'l') => (await readStream(pool, `league:${league}`, 0)).filter((e) => e.type === 'league_table');
  const stored = async () => (await pool.query<{ t: Row[] }>(`SELECT matchcast_standing_json('l') AS t`)).rows[0]!.t;
  const finish = (id: string, home: number, away: number) =>
    pool.query(`BEGIN; INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('${id}', ${home}, ${away})
                  ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score, away_score = EXCLUDED.away_score;
                UPDATE match SET status = 'finished' WHERE id = '${id}'; COMMIT`);

  it('lists every team of the league with zeros once the teams exist, in name order (one event for the seeding transaction)', async () => {
    const events = await tableEvents();
    expect(events).toHaveLength(1);
    expect(events[0]!.match_id).toBeNull();
    expect(events[0]!.data.league).toEqual({ id: 'l', name: 'League' });
    expect(compact(events[0]!.data.rows as Row[])).toEqual([
      ['a', 0, 0, 0, 0, 0, 0, 0, 0], ['b', 0, 0, 0, 0, 0, 0, 0, 0], ['c', 0, 0, 0, 0, 0, 0, 0, 0], ['d', 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
  });

  it('recomputes on each result: a win, a draw, a corrected score and a deleted finished match, one league_table each, in order', async () => {
    // A live match's goals are not results: no event.
    await pool.query(`INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('m1', 1, 0); UPDATE match SET status = 'live' WHERE id = 'm1'`);
    expect(await tableEvents()).toHaveLength(1);

    await finish('m1', 2, 0); // Aston 2-0 Bury
    await finish('m2', 1, 1); // Crewe 1-1 Derby
    let events = await tableEvents();
    expect(events).toHaveLength(3);
    expect(compact(events[1]!.data.rows as Row[])).toEqual([
      ['a', 1, 1, 0, 0, 2, 0, 2, 3], ['c', 0, 0, 0, 0, 0, 0, 0, 0], ['d', 0, 0, 0, 0, 0, 0, 0, 0], ['b', 1, 0, 0, 1, 0, 2, -2, 0],
    ]);
    expect(compact(events[2]!.data.rows as Row[])).toEqual([
      ['a', 1, 1, 0, 0, 2, 0, 2, 3], ['c', 1, 0, 1, 0, 1, 1, 0, 1], ['d', 1, 0, 1, 0, 1, 1, 0, 1], ['b', 1, 0, 0, 1, 0, 2, -2, 0],
    ]);

    // Correction: Crewe 3-1 Derby (a score change of a finished match).
    await pool.query(`UPDATE scoreboard SET home_score = 3 WHERE match_id = 'm2'`);
    // Goals for breaks the tie on points and goal difference: Crewe (3) above Aston (2).
    await finish('m4', 0, 2); // Derby 0-2 Aston
    events = await tableEvents();
    expect(events).toHaveLength(5);
    expect(compact(events[3]!.data.rows as Row[])).toEqual([
      ['c', 1, 1, 0, 0, 3, 1, 2, 3], ['a', 1, 1, 0, 0, 2, 0, 2, 3], ['d', 1, 0, 0, 1, 1, 3, -2, 0], ['b', 1, 0, 0, 1, 0, 2, -2, 0],
    ]);
    expect(compact(events[4]!.data.rows as Row[])).toEqual([
      ['a', 2, 2, 0, 0, 4, 0, 4, 6], ['c', 1, 1, 0, 0, 3, 1, 2, 3], ['b', 1, 0, 0, 1, 0, 2, -2, 0], ['d', 2, 0, 0, 2, 1, 5, -4, 0],
    ]);
    expect((events[4]!.data.rows as Row[]).map((r) => r.position)).toEqual([1, 2, 3, 4]);

    // Deleting a finished match takes its result out.
    await pool.query(`DELETE FROM match WHERE id = 'm4'`);
    events = await tableEvents();
    expect(events).toHaveLength(6);
    expect(compact(events[5]!.data.rows as Row[])).toEqual(compact(events[3]!.data.rows as Row[]));
    expect(compact(await stored())).toEqual(compact(events[5]!.data.rows as Row[]));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    // Other leagues are untouched.
    expect(await tableEvents('other')).toHaveLength(1);
  });

  it('sends nothing when a write leaves the table as it was, and one event for a transaction with several result changes', async () => {
    const before = (await tableEvents()).length;
    await pool.query(`UPDATE scoreboard SET home_score = home_score WHERE match_id = 'm2'`);
    await pool.query(`BEGIN; UPDATE scoreboard SET home_score = 4 WHERE match_id = 'm2'; UPDATE scoreboard SET home_score = 3 WHERE match_id = 'm2'; COMMIT`);
    expect(await tableEvents()).toHaveLength(before);
    await pool.query(`BEGIN; UPDATE scoreboard SET home_score = 5 WHERE match_id = 'm1'; UPDATE match SET status = 'cancelled' WHERE id = 'm2'; COMMIT`);
    const events = await tableEvents();
    expect(events).toHaveLength(before + 1);
    expect(compact(events[before]!.data.rows as Row[])).toEqual([
      ['a', 1, 1, 0, 0, 5, 0, 5, 3], ['c', 0, 0, 0, 0, 0, 0, 0, 0], ['d', 0, 0, 0, 0, 0, 0, 0, 0], ['b', 1, 0, 0, 1, 0, 5, -5, 0],
    ]);
  });

  it('keeps concurrent results of one league consistent (the later commit sees the earlier)', async () => {
    await pool.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES
      ('p1', 'other', 'x', 'y', now()), ('p2', 'other', 'y', 'x', now()), ('p3', 'other', 'x', 'y', now()), ('p4', 'other', 'y', 'x', now())`);
    await Promise.all(['p1', 'p2', 'p3', 'p4'].map((id) => finish(id, 1, 0)));
    const rows = (await pool.query<{ t: Row[] }>(`SELECT matchcast_standing_json('other') AS t`)).rows[0]!.t;
    expect(compact(rows)).toEqual([['x', 4, 2, 0, 2, 2, 2, 0, 6], ['y', 4, 2, 0, 2, 2, 2, 0, 6]]);
    const last = (await tableEvents('other')).at(-1)!;
    expect(compact(last.data.rows as Row[])).toEqual(compact(rows));
  });

  describe('schedule_update', () => {
    const scheduleEvents = async (match: string) => (await readStream(pool, `match:${match}`, 0)).filter((e) => e.type === 'schedule_update');

    it('reports a kick-off change, postponement, reinstatement and cancellation with old and new values, after the match_status', async () => {
      await pool.query(`UPDATE match SET kickoff_at = '2026-01-09T19:45Z' WHERE id = 'm3'`);
      await pool.query(`UPDATE match SET status = 'postponed' WHERE id = 'm3'`);
      await pool.query(`UPDATE match SET status = 'scheduled', kickoff_at = '2026-02-01T15:00Z' WHERE id = 'm3'`);
      await pool.query(`UPDATE match SET status = 'cancelled' WHERE id = 'm3'`);
      await pool.query(`UPDATE match SET status = 'live' WHERE id = 'o1'`); // not a schedule change
      expect(await scheduleEvents('o1')).toEqual([]);
      const events = await scheduleEvents('m3');
      expect(events.map((e) => [e.data.change, e.data.old_kickoff_at, e.data.new_kickoff_at, e.data.old_status, e.data.new_status])).toEqual([
        ['rescheduled', '2026-01-08T15:00:00.000Z', '2026-01-09T19:45:00.000Z', 'scheduled', 'scheduled'],
        ['postponed', '2026-01-09T19:45:00.000Z', '2026-01-09T19:45:00.000Z', 'scheduled', 'postponed'],
        ['rescheduled', '2026-01-09T19:45:00.000Z', '2026-02-01T15:00:00.000Z', 'postponed', 'scheduled'],
        ['cancelled', '2026-02-01T15:00:00.000Z', '2026-02-01T15:00:00.000Z', 'scheduled', 'cancelled'],
      ]);
      expect(events[0]!.data).toMatchObject({ match_id: 'm3', home_team: { id: 'b' }, away_team: { id: 'c' }, league: { id: 'l' }, kickoff_at: '2026-01-09T19:45:00.000Z' });
      // The established messages still come, just before each schedule_update.
      const all = await readStream(pool, 'match:m3', 0);
      const postponed = all.findIndex((e) => e.type === 'schedule_update' && e.data.change === 'postponed');
      expect(all[postponed - 1]).toMatchObject({ type: 'match_status', data: { status: 'postponed', old_status: 'scheduled' } });
    });

    it('reports a deletion with the match as it last was (score included), and null new values', async () => {
      await pool.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('gone', 'l', 'a', 'd', '2026-03-01T15:00Z');
        INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('gone', 2, 1)`);
      await pool.query(`DELETE FROM match WHERE id = 'gone'`);
      const [event] = await scheduleEvents('gone');
      expect(event).toMatchObject({
        match_id: 'gone',
        data: { change: 'deleted', old_status: 'scheduled', new_status: null, old_kickoff_at: '2026-03-01T15:00:00.000Z', new_kickoff_at: null, score: { home: 2, away: 1 }, league: { id: 'l' } },
      });
    });
  });
});
