/**
 * 014: reads that must not grow with everything ever stored. With thousands of matches and teams
 * in many leagues, GET /matches (readMatches) reads about as many matches as it returns, and a
 * league table is computed from that league's rows only (014's matchcast_compute_standing looks
 * up scoreboards and team names by key); the plans (auto_explain, nested statements included,
 * with actual row counts) show it.
 */
import { readMatches } from '@matchcast/db';
import { ExplainedDatabase } from './explained-database';

const MATCHES = 3000;
const LEAGUES = 30;
const LIVE = 12;

describe('014: listing matches and computing a league table read only what they need', () => {
  let explained: ExplainedDatabase;
  let db: ExplainedDatabase['db'];

  beforeAll(async () => {
    // The bulk without triggers (each insert would refresh a league's table or append an event).
    explained = await ExplainedDatabase.start(
      `SET session_replication_role = replica;
      INSERT INTO league (id, name, private) SELECT 'l' || g, 'League ' || g, g = 1 FROM generate_series(1, ${LEAGUES}) g;
      INSERT INTO team (id, league_id, name) SELECT 't' || g, 'l' || (g % ${LEAGUES} + 1), 'Team ' || g FROM generate_series(1, 2 * ${MATCHES}) g;
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
        SELECT 'm' || g, 'l' || (g % ${LEAGUES} + 1), 't' || g, 't' || (g + ${MATCHES}),
               now() - g * interval '1 hour', CASE WHEN g <= ${LIVE} THEN 'live' ELSE 'finished' END
          FROM generate_series(1, ${MATCHES}) g;
      INSERT INTO scoreboard (match_id, home_score, away_score) SELECT id, 1, 0 FROM match;
      INSERT INTO stream_counter (stream, last_seq) SELECT 'match:' || id, 1 FROM match;
      RESET session_replication_role;
      ANALYZE`,
      { analyze: true },
    );
    db = explained.db;
  });

  afterAll(() => explained.stop());

  /** The logged plans of what `run` did, and the most rows any one scan of `table` returned. */
  async function scans(run: () => Promise<unknown>, table: string): Promise<{ plans: string; rowsRead: number }> {
    const text = (await explained.plansOf(run)).join('\n');
    const counts = [...text.matchAll(new RegExp(`Scan[^\\n]* on ${table} [^\\n]*\\(actual rows=(\\d+) loops=(\\d+)\\)`, 'g'))];
    return { plans: text, rowsRead: Math.max(0, ...counts.map((m) => Number(m[1]) * Number(m[2]))) };
  }

  it.each([
    ['every status, the first 100', null, 100],
    ['finished only, the first 50', ['finished'], 50],
  ])('GET /matches (%s) reads about as many matches as it returns, live ones first', async (_, statuses, limit) => {
    let listed: Awaited<ReturnType<typeof readMatches>> = [];
    const { plans: logged, rowsRead } = await scans(async () => (listed = await readMatches(db, statuses, limit)), 'match');
    expect(listed).toHaveLength(limit);
    if (!statuses) expect(listed.slice(0, LIVE).every((row) => row.match.status === 'live')).toBe(true);
    expect(logged).toContain('match_listing_idx');
    expect(logged).not.toMatch(/Seq Scan on match\b/);
    // Passed over: the private league's matches, and (finished only) the live ones.
    expect(rowsRead).toBeLessThan(limit * 1.5 + LIVE);
  });

  it('a private league\'s member lists its matches by the same index', async () => {
    await db.query(`INSERT INTO league_member (league_id, user_id, added_by) VALUES ('l1', 'u1', 'admin')`);
    let listed: Awaited<ReturnType<typeof readMatches>> = [];
    const { plans: logged } = await scans(async () => (listed = await readMatches(db, null, 40, { userId: 'u1', admin: false })), 'match');
    expect(listed.some((row) => row.match.league.id === 'l1')).toBe(true);
    expect(logged).toContain('match_listing_idx');
  });

  it('a league table reads that league\'s teams, matches and scoreboards only, by index', async () => {
    const { plans: logged } = await scans(() => db.query(`SELECT matchcast_refresh_standing('l2')`), 'team');
    expect(logged).toMatch(/Index Scan on team_league_idx|Index Scan using team_league_idx/);
    expect(logged).not.toMatch(/Seq Scan on (team|match|scoreboard)\b/);
  });
});
