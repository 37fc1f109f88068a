-- Reads that grew with everything ever stored, found by running the test suites against a
-- Postgres with enable_seqscan off and every plan logged (docs/benchmarks.md, "Lookups"):
-- a plan that still scans a table there has no index to use. Each is covered by a test on
-- thousands of rows (packages/db/test/stream-lookups.test.ts, read-paths.test.ts).

-- A team's matches. match.home_team_id and away_team_id reference team but had no index, so a
-- team rename (012's matchcast_forget_match_state finds the team's matches to forget their state)
-- and every check of those foreign keys on a team's delete read the whole match table.
CREATE INDEX match_home_team_idx ON match (home_team_id);
CREATE INDEX match_away_team_idx ON match (away_team_id);

-- A league's teams: the league table (005's matchcast_compute_standing, run when a finished
-- match's score changes and for GET /api/leagues/{id}/table) read every team of every league.
CREATE INDEX team_league_idx ON team (league_id);

-- GET /matches lists live matches first, then the latest kick-offs, up to its limit: it sorted
-- every match ever stored (and looked up each one's stream head) to return the first 100. In this
-- order the scan stops at the limit.
CREATE INDEX match_listing_idx ON match ((status IN ('live', 'half_time')), kickoff_at);
