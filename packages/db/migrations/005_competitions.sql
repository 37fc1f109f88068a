-- Competitions: league tables (standings) kept by the database, and schedule changes
-- (reschedule, postponement, cancellation, deletion) as their own messages.
--
--   standing          one row per team of a league: the table as of the last result change.
--   league:<id>       a stream of its own (seq as every stream): `league_table` events, one per
--                     transaction that really changed the table, NOTIFY channel standing_change.
--   schedule_update   on the match's stream (so it reaches match, league, both teams and all):
--                     the snapshot plus change, old/new kickoff_at and status. It accompanies the
--                     match_status / match_update message 001 already sends for the same write.

CREATE TABLE standing (
  league_id        text NOT NULL REFERENCES league (id),
  team_id          text NOT NULL REFERENCES team (id),
  position         integer NOT NULL CHECK (position >= 1),
  played           integer NOT NULL,
  won              integer NOT NULL,
  drawn            integer NOT NULL,
  lost             integer NOT NULL,
  goals_for        integer NOT NULL,
  goals_against    integer NOT NULL,
  goal_difference  integer NOT NULL,
  points           integer NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (league_id, team_id),
  UNIQUE (league_id, position)
);
CREATE INDEX standing_team_idx ON standing (team_id);
-- The schedule route reads a league's matches by kickoff.
CREATE INDEX match_league_kickoff_idx ON match (league_id, kickoff_at);

-- A league's table computed from its finished matches: every team of the league (and any other
-- team that played a finished match in it), 3/1/0 points, ordered by points, goal difference,
-- goals for, then team name (and id, so the order is total). A finished match without a
-- scoreboard row counts 0-0, as its snapshot shows.
CREATE FUNCTION matchcast_compute_standing(p_league text)
RETURNS TABLE (team_id text, team_name text, "position" integer, played integer, won integer, drawn integer, lost integer,
               goals_for integer, goals_against integer, goal_difference integer, points integer)
LANGUAGE sql STABLE AS $$
  WITH finished AS (
    SELECT m.home_team_id, m.away_team_id, COALESCE(sb.home_score, 0) AS hs, COALESCE(sb.away_score, 0) AS aws
      FROM match m LEFT JOIN scoreboard sb ON sb.match_id = m.id
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
      FROM teams t JOIN team tm ON tm.id = t.id LEFT JOIN results r ON r.team = t.id
     GROUP BY t.id, tm.name
  )
  SELECT team_id, team_name,
         row_number() OVER (ORDER BY won * 3 + drawn DESC, goals_for - goals_against DESC, goals_for DESC, team_name, team_id)::int,
         played, won, drawn, lost, goals_for, goals_against, goals_for - goals_against, won * 3 + drawn
    FROM totals
$$;

-- The table as clients see it (league_table's `rows`, GET /api/leagues/{id}/table), in position order.
CREATE FUNCTION matchcast_standing_json(p_league text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'position', s.position, 'team', jsonb_build_object('id', s.team_id, 'name', t.name),
           'played', s.played, 'won', s.won, 'drawn', s.drawn, 'lost', s.lost,
           'goals_for', s.goals_for, 'goals_against', s.goals_against,
           'goal_difference', s.goal_difference, 'points', s.points) ORDER BY s.position), '[]'::jsonb)
    FROM standing s JOIN team t ON t.id = s.team_id
   WHERE s.league_id = p_league
$$;

-- Recomputes one league's table; when it differs from the stored one, stores it and appends one
-- league_table event to league:<id>. The league row is locked first (FOR NO KEY UPDATE: inserts
-- of teams and matches, which take KEY SHARE, are not blocked) so that two transactions changing
-- results of the same league recompute one after the other, the second from the first's
-- committed results — otherwise the last to commit would store a table missing the other's.
CREATE FUNCTION matchcast_refresh_standing(p_league text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_league league;
  v_old jsonb;
  v_new jsonb;
BEGIN
  SELECT * INTO v_league FROM league WHERE id = p_league FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_old := matchcast_standing_json(p_league);
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'position', c.position, 'team', jsonb_build_object('id', c.team_id, 'name', c.team_name),
           'played', c.played, 'won', c.won, 'drawn', c.drawn, 'lost', c.lost,
           'goals_for', c.goals_for, 'goals_against', c.goals_against,
           'goal_difference', c.goal_difference, 'points', c.points) ORDER BY c.position), '[]'::jsonb)
    INTO v_new FROM matchcast_compute_standing(p_league) c;
  IF v_new = v_old THEN
    RETURN;
  END IF;
  DELETE FROM standing WHERE league_id = p_league;
  INSERT INTO standing (league_id, team_id, position, played, won, drawn, lost, goals_for, goals_against, goal_difference, points)
  SELECT p_league, c.team_id, c.position, c.played, c.won, c.drawn, c.lost, c.goals_for, c.goals_against, c.goal_difference, c.points
    FROM matchcast_compute_standing(p_league) c;
  PERFORM matchcast_append('league:' || p_league, 'standing', 'league_table', NULL, jsonb_build_object(
    'league', jsonb_build_object('id', v_league.id, 'name', v_league.name),
    'rows', v_new));
END $$;

-- Which leagues a write may have changed the table of. Deferred to commit (constraint
-- triggers): a transaction that finishes a match and then corrects its score recomputes from
-- its final state, and every later firing in the same commit finds the table unchanged — so
-- one transaction gives at most one league_table per league.
CREATE FUNCTION matchcast_standing_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_old jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
  v_new jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
  v_leagues text[];
  v_league text;
BEGIN
  CASE TG_TABLE_NAME
    WHEN 'match' THEN
      v_leagues := ARRAY[v_old->>'league_id', v_new->>'league_id'];
    WHEN 'scoreboard' THEN
      -- Only a finished match's score is a result (the match row may be gone: cascade).
      SELECT array_agg(m.league_id) INTO v_leagues FROM match m
       WHERE m.id = COALESCE(v_new, v_old)->>'match_id' AND m.status = 'finished';
    WHEN 'team' THEN
      v_leagues := ARRAY[v_old->>'league_id', v_new->>'league_id'];
  END CASE;
  FOR v_league IN SELECT DISTINCT l FROM unnest(v_leagues) l WHERE l IS NOT NULL LOOP
    PERFORM matchcast_refresh_standing(v_league);
  END LOOP;
  RETURN NULL;
END $$;

-- A result changes when a match becomes or stops being finished, a finished match moves
-- league or teams, is inserted finished or deleted, or a finished match's score changes. A new
-- or renamed team changes the table too (a row of zeros; the name is the last tie-break).
CREATE CONSTRAINT TRIGGER match_standing_insert AFTER INSERT ON match DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.status = 'finished') EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER match_standing_update AFTER UPDATE ON match DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN ((OLD.status = 'finished' OR NEW.status = 'finished')
    AND (OLD.status, OLD.league_id, OLD.home_team_id, OLD.away_team_id)
        IS DISTINCT FROM (NEW.status, NEW.league_id, NEW.home_team_id, NEW.away_team_id))
  EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER match_standing_delete AFTER DELETE ON match DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status = 'finished') EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER scoreboard_standing_insert AFTER INSERT ON scoreboard DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER scoreboard_standing_update AFTER UPDATE ON scoreboard DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN ((OLD.home_score, OLD.away_score, OLD.match_id) IS DISTINCT FROM (NEW.home_score, NEW.away_score, NEW.match_id))
  EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER scoreboard_standing_delete AFTER DELETE ON scoreboard DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER team_standing_insert AFTER INSERT ON team DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION matchcast_standing_trigger();
CREATE CONSTRAINT TRIGGER team_standing_update AFTER UPDATE ON team DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN ((OLD.name, OLD.league_id) IS DISTINCT FROM (NEW.name, NEW.league_id))
  EXECUTE FUNCTION matchcast_standing_trigger();

-- schedule_update: what changed about when (or whether) a match is played. `change` is
-- postponed / cancelled when the status becomes that, rescheduled when the kick-off moves or a
-- postponed or cancelled match is back on, deleted when the row goes. A delete is seen BEFORE
-- it happens, while the row and its scoreboard still exist (the cascade removes them first in
-- an AFTER trigger), so the snapshot is the match's last state.
CREATE FUNCTION matchcast_emit_schedule() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_change text;
  v_data jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    v_change := 'deleted';
  ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('postponed', 'cancelled') THEN
    v_change := NEW.status;
  ELSIF NEW.kickoff_at IS DISTINCT FROM OLD.kickoff_at
        OR (OLD.status IN ('postponed', 'cancelled') AND NEW.status = 'scheduled') THEN
    v_change := 'rescheduled';
  ELSE
    RETURN NULL;
  END IF;
  v_data := matchcast_match_snapshot(OLD.id);
  IF v_data IS NULL THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD END;
  END IF;
  v_data := v_data || jsonb_build_object(
    'change', v_change,
    'old_kickoff_at', to_char(OLD.kickoff_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'new_kickoff_at', CASE WHEN TG_OP = 'DELETE' THEN NULL
                           ELSE to_char(NEW.kickoff_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
    'old_status', OLD.status,
    'new_status', CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.status END);
  PERFORM matchcast_append('match:' || OLD.id, 'match', 'schedule_update', OLD.id, v_data);
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD END;
END $$;

-- Named after match_emit_update so that, for one write, match_status / match_update comes first.
CREATE TRIGGER match_schedule_update AFTER UPDATE ON match FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.kickoff_at IS DISTINCT FROM NEW.kickoff_at)
  EXECUTE FUNCTION matchcast_emit_schedule();
CREATE TRIGGER match_schedule_delete BEFORE DELETE ON match FOR EACH ROW
  EXECUTE FUNCTION matchcast_emit_schedule();

-- Trigger functions and what they call run as the owner (003's pattern): the crawler causes
-- league_table and schedule_update events only through rows it really wrote, and cannot call
-- any of these directly.
DO $$
DECLARE
  v_schema text;
  f text;
BEGIN
  SELECT n.nspname INTO STRICT v_schema
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.oid = 'matchcast_emit()'::regprocedure;
  FOREACH f IN ARRAY ARRAY['matchcast_standing_trigger()', 'matchcast_emit_schedule()'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION matchcast_standing_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_emit_schedule() FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_refresh_standing(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_compute_standing(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_standing_json(text) FROM PUBLIC;

-- The table is public match data: the API serves it, the gateway may read it, the crawler only
-- causes it (no grant: the owner writes it).
GRANT SELECT ON standing TO matchcast_api, matchcast_gateway;
-- GET /api/leagues/{id}/schedule shows each match's score.
GRANT SELECT ON scoreboard TO matchcast_api;
GRANT EXECUTE ON FUNCTION matchcast_standing_json(text) TO matchcast_api, matchcast_gateway;
