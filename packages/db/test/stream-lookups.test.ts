/**
 * 013: an event's lookups use the indexes. With thousands of streams and matches, the nested
 * statements on every kind of write's event path (logged by auto_explain) read stream_counter
 * and match by their primary keys, never by scanning them. The collation of the trigger's
 * TG_TABLE_NAME (a `name`, "C") used to reach the append functions' keys and force a scan per
 * event. 014: a team rename finds the team's matches by index.
 */
import { ExplainedDatabase } from './explained-database';

// 5,000 teams in one league: its table (~0.9 MB) stays within a league event's 1 MiB (025).
const STREAMS = 2500;

describe('013, 014: stream and match lookups use their indexes', () => {
  let explained: ExplainedDatabase;

  beforeAll(async () => {
    // The bulk without triggers (each team or match insert would refresh the league's table); match m1 with them.
    explained = await ExplainedDatabase.start(
      `INSERT INTO league (id, name) VALUES ('l', 'League');
      SET session_replication_role = replica;
      INSERT INTO team (id, league_id, name) SELECT 't' || g, 'l', 'Team ' || g FROM generate_series(1, 2 * ${STREAMS}) g;
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at)
        SELECT 'm' || g, 'l', 't' || (2 * g - 1), 't' || (2 * g), now() FROM generate_series(2, ${STREAMS}) g;
      INSERT INTO stream_counter (stream, last_seq) SELECT 'match:m' || g, 1 FROM generate_series(2, ${STREAMS}) g;
      RESET session_replication_role;
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 't1', 't2', now());
      ANALYZE`,
      { analyze: false },
    );
  });

  afterAll(() => explained.stop());

  /**
   * The plans of what `sql` ran on an event's path: the counter's update or insert and the
   * snapshot join. (A league table's refresh reads the league's matches by design: a rare
   * write, not per event.)
   */
  async function eventPathPlans(sql: string): Promise<string[]> {
    return plansOf(sql, /Query Text: (UPDATE stream_counter|INSERT INTO stream_counter|SELECT jsonb_build_object\(\s*'match_id')/);
  }

  async function plansOf(sql: string, statement: RegExp): Promise<string[]> {
    return (await explained.plansOf(() => explained.db.query(sql))).filter((plan) => statement.test(plan));
  }

  it.each([
    ['a new scoreboard', `INSERT INTO scoreboard (match_id) VALUES ('m1')`],
    ['a new stream', `SELECT matchcast_append('user:u1', 'test', 'test', NULL, '{}')`],
    ['a score', `UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm1'`],
    ['a clock', `INSERT INTO gameclock (match_id) VALUES ('m1'); UPDATE gameclock SET minute = 12 WHERE match_id = 'm1'`],
    ['an incident', `INSERT INTO football_event (match_id, minute, type, team) VALUES ('m1', 12, 'goal', 'home')`],
    ['a match status (the snapshot join)', `UPDATE match SET status = 'live' WHERE id = 'm1'`],
    ['a state forgotten, then an event (the join again)', `UPDATE team SET name = 'Renamed' WHERE id = 't1'; UPDATE scoreboard SET home_score = 2 WHERE match_id = 'm1'`],
    ['a finished match score (the league table)', `UPDATE match SET status = 'finished' WHERE id = 'm1'; UPDATE scoreboard SET away_score = 1 WHERE match_id = 'm1'`],
    ['an append whose stream argument collates as "C"', `SELECT matchcast_append('match:m2'::name::text, 'test', 'test', NULL, '{}')`],
  ])('%s', async (_, sql) => {
    const logged = await eventPathPlans(sql);
    expect(logged.join('\n')).toContain('stream_counter_pkey');
    // (league, scoreboard and gameclock hold a row or two here: scanning them is the cheaper plan.)
    for (const plan of logged) expect(plan).not.toMatch(/Seq Scan on (stream_counter|match)\b/);
  });

  it('a team rename finds the team\'s matches by index, to forget their state (014)', async () => {
    const logged = await plansOf(`UPDATE team SET name = 'Renamed again' WHERE id = 't3'`, /Query Text: SELECT array_agg\(m\.id\)/);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/match_home_team_idx/);
    expect(logged[0]).toMatch(/match_away_team_idx/);
    expect(logged[0]).not.toMatch(/Seq Scan on match\b/);
  });
});
