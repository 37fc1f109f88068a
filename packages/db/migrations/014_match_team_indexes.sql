-- A team's matches, found by index: match.home_team_id and away_team_id reference team but had
-- no index, so a team rename (012's matchcast_forget_match_state looks up the team's matches to
-- forget their state) and every check of the foreign keys on a team's delete or id change read the
-- whole match table. Rare writes, but their cost grew with every match ever stored, and they hold
-- their locks for that long. packages/db/test/stream-lookups.test.ts checks the rename's plan.
CREATE INDEX match_home_team_idx ON match (home_team_id);
CREATE INDEX match_away_team_idx ON match (away_team_id);
