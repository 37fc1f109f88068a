-- Reads that grew with everything ever stored, found by running the test suites against a
-- Postgres with enable_seqscan off and every plan logged (docs/benchmarks.md, "Lookups"):
-- a plan that still scans a table there has no index to use. Each is covered by a test on
-- thousands of rows (packages/db/test/stream-lookups.test.ts, read-paths.test.ts).

-- A team's matches. match.home_team_id and away_team_id reference team but had no index, so a
-- team rename (012's matchcast_forget_match_state finds the team's matches to forget their state)
-- and every check of those foreign keys on a team's delete read the whole match table.
CREATE INDEX match_home_team_idx ON match (home_team_id);
CREATE INDEX match_away_team_idx ON match (away_team_id);

-- A league's teams: the league table's computation (005's matchcast_compute_standing, run when a
-- finished match's score changes) read every team of every league.
CREATE INDEX team_league_idx ON team (league_id);

-- GET /matches lists live matches first, then the latest kick-offs, up to its limit: it sorted
-- every match ever stored (and looked up each one's stream head) to return the first 100. In this
-- order the scan stops at the limit.
CREATE INDEX match_listing_idx ON match ((status IN ('live', 'half_time')), kickoff_at);

-- 005's league table, the same rows, with each finished match's scoreboard and each team's name
-- looked up by primary key: from its row estimates the planner hash-joined the whole scoreboard
-- and team tables instead (36 ms of a 100 ms refresh at 100,000 matches and 200,000 teams).
-- OFFSET 0 keeps each lookup a subquery run per row, which the planner cannot turn into a join.
CREATE OR REPLACE FUNCTION matchcast_compute_standing(p_league text)
RETURNS TABLE (team_id text, team_name text, "position" integer, played integer, won integer, drawn integer, lost integer,
               goals_for integer, goals_against integer, goal_difference integer, points integer)
LANGUAGE sql STABLE AS $$
  WITH finished AS (
    SELECT m.home_team_id, m.away_team_id, COALESCE(sb.home_score, 0) AS hs, COALESCE(sb.away_score, 0) AS aws
      FROM match m LEFT JOIN LATERAL (SELECT home_score, away_score FROM scoreboard WHERE match_id = m.id OFFSET 0) sb ON true
     WHERE m.league_id = p_league AND m.status = 'finished'
  ), results AS (
    SELECT home_team_id AS team, hs AS gf, aws AS ga FROM finished
    UNION ALL
    SELECT away_team_id, aws, hs FROM finished
  ), teams AS (
    SELECT id FROM team WHERE league_id = p_league
    UNION
    SELECT team FROM results
  ), totals AS (
    SELECT t.id AS team_id, tm.name AS team_name,
           count(r.team)::int AS played,
           count(*) FILTER (WHERE r.gf > r.ga)::int AS won,
           count(*) FILTER (WHERE r.gf = r.ga)::int AS drawn,
           count(*) FILTER (WHERE r.gf < r.ga)::int AS lost,
           COALESCE(sum(r.gf), 0)::int AS goals_for,
           COALESCE(sum(r.ga), 0)::int AS goals_against
      FROM teams t JOIN LATERAL (SELECT name FROM team WHERE id = t.id OFFSET 0) tm ON true LEFT JOIN results r ON r.team = t.id
     GROUP BY t.id, tm.name
  )
  SELECT team_id, team_name,
         row_number() OVER (ORDER BY won * 3 + drawn DESC, goals_for - goals_against DESC, goals_for DESC, team_name, team_id)::int,
         played, won, drawn, lost, goals_for, goals_against, goals_for - goals_against, won * 3 + drawn
    FROM totals
$$;
