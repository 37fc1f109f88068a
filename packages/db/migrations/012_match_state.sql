-- The match snapshot kept on the match stream's counter row (docs/benchmarks.md, "NOTIFY path
-- ceiling"). Every match message carries the match's state (002's matchcast_match_snapshot: a
-- six-table join). Measured per commit, that join was the largest single cost of a score or
-- clock write: about 70 µs of Postgres CPU, as much as the seq counter and the outbox row
-- together. The stream's counter row is updated by every event anyway, so it now carries the
-- state as of the stream's last event: an event patches what its own row changed (the score, the
-- minute and period) into it in that same UPDATE, and the join runs only when the state is
-- unknown — the stream's first match event, a match row's own event, or after a write that
-- changes the state without an event (a team or league renamed, a league made private, a match
-- moved to other teams or another league, a scoreboard or game clock deleted), which forgets it.
--
-- Same events, seqs, outbox rows and payloads as before (packages/db/test/lean-triggers.test.ts
-- compares them byte for byte). One thing is better: two transactions writing the same match at
-- once used to each read the join before taking the counter's row lock, so the later event could
-- carry the earlier state (a score going back); the patch is applied to the row as the earlier
-- commit left it, so each event's state includes every event before it in its stream.

ALTER TABLE stream_counter ADD COLUMN state jsonb;
COMMENT ON COLUMN stream_counter.state IS
  'match streams: the match snapshot as of the last event (NULL: unknown, the next event computes it)';

-- A counter row is updated by every event of its stream. An UPDATE that changes an indexed column
-- (updated_at is: stream_counter_updated_idx, for the gateways' catch-up window) cannot be HOT: it
-- adds an entry to every index and leaves dead ones behind, on the busiest rows of the database.
-- updated_at now moves only once a second has passed since it last did, so nearly every update
-- leaves the indexed columns as they were and is HOT; readers allow for that second (streamHeads).
-- Half of each page is left free for the new row versions.
CREATE FUNCTION matchcast_touched(p_updated_at timestamptz, p_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_updated_at > p_at - interval '1 second' THEN p_updated_at ELSE p_at END
$$;
ALTER TABLE stream_counter SET (fillfactor = 50);

-- The outbox row and its NOTIFY (002's matchcast_append from the seq on), shared by both appends.
CREATE FUNCTION matchcast_write_event(p_stream text, p_seq bigint, p_source text, p_type text, p_match_id text,
                                      p_data jsonb, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
  v_payload text;
BEGIN
  INSERT INTO outbox (stream, seq, source, type, match_id, data, created_at)
  VALUES (p_stream, p_seq, p_source, p_type, p_match_id, p_data, p_at)
  RETURNING id INTO v_id;

  v_payload := json_build_object(
    'id', v_id::text, 'stream', p_stream, 'seq', p_seq, 'type', p_type, 'match_id', p_match_id,
    'data', p_data, 'timestamp', to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text;
  IF octet_length(v_payload) > 7900 THEN
    v_payload := json_build_object('ref', true, 'id', v_id::text, 'stream', p_stream, 'seq', p_seq)::text;
  END IF;
  PERFORM pg_notify(p_source || '_change', v_payload);
END $$;

-- 002's function: the counter is updated first (a stream's row exists after its first event, and
-- an UPDATE costs less than INSERT … ON CONFLICT), then the shared row and NOTIFY.
CREATE OR REPLACE FUNCTION matchcast_append(p_stream text, p_source text, p_type text, p_match_id text, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_seq bigint;
  v_at timestamptz := clock_timestamp();
BEGIN
  UPDATE stream_counter SET last_seq = last_seq + 1, updated_at = matchcast_touched(updated_at, v_at) WHERE stream = p_stream
  RETURNING last_seq INTO v_seq;
  IF NOT FOUND THEN
    INSERT INTO stream_counter AS c (stream, last_seq, updated_at) VALUES (p_stream, 1, v_at)
    ON CONFLICT (stream) DO UPDATE SET last_seq = c.last_seq + 1, updated_at = v_at
    RETURNING last_seq INTO v_seq;
  END IF;
  PERFORM matchcast_write_event(p_stream, v_seq, p_source, p_type, p_match_id, p_data, v_at);
END $$;

-- Appends a match event: p_patch is merged into the stream's state (computed by the join when
-- unknown) in the counter's own UPDATE, and the event's data is that state plus p_extra. The
-- state is read from the row the UPDATE wrote, so a concurrent writer's committed patch is in it.
-- Returns the state.
CREATE FUNCTION matchcast_append_match(p_match_id text, p_source text, p_type text, p_patch jsonb, p_extra jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_stream text := 'match:' || p_match_id;
  v_at timestamptz := clock_timestamp();
  v_seq bigint;
  v_state jsonb;
BEGIN
  UPDATE stream_counter
     SET last_seq = last_seq + 1, updated_at = matchcast_touched(updated_at, v_at),
         state = COALESCE(state, matchcast_match_snapshot(p_match_id)) || p_patch
   WHERE stream = v_stream
  RETURNING last_seq, state INTO v_seq, v_state;
  IF NOT FOUND THEN
    INSERT INTO stream_counter AS c (stream, last_seq, updated_at, state)
    VALUES (v_stream, 1, v_at, matchcast_match_snapshot(p_match_id) || p_patch)
    ON CONFLICT (stream) DO UPDATE
      SET last_seq = c.last_seq + 1, updated_at = v_at, state = COALESCE(c.state, matchcast_match_snapshot(p_match_id)) || p_patch
    RETURNING last_seq, state INTO v_seq, v_state;
  END IF;
  -- The match row exists (every table here references it), so the join cannot come back empty.
  PERFORM matchcast_write_event(v_stream, v_seq, p_source, p_type, p_match_id, v_state || p_extra, v_at);
  RETURN v_state;
END $$;

-- 005 checked the standings at commit after every score write (a deferred constraint trigger per
-- row), though only a finished match's score is a result. The emit trigger has the match's status
-- at hand (the state), so a score write asks for that check only when the match is finished: a
-- row here, whose deferred trigger refreshes the league's table at commit as 005's did (from the
-- transaction's final rows, so one transaction still gives at most one league_table per league).
CREATE TABLE standing_due (league_id text NOT NULL);

CREATE FUNCTION matchcast_standing_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM standing_due WHERE league_id = NEW.league_id;
  PERFORM matchcast_refresh_standing(NEW.league_id);
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER standing_due_refresh AFTER INSERT ON standing_due DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION matchcast_standing_due();
-- A scoreboard's insert and update now ask through matchcast_emit; a delete still checks at commit.
DROP TRIGGER scoreboard_standing_insert ON scoreboard;
DROP TRIGGER scoreboard_standing_update ON scoreboard;

-- 002's trigger function, same messages: each table says what it changed in the state (the
-- patch) and what its message adds (the extra). A match row's own event recomputes the state.
CREATE OR REPLACE FUNCTION matchcast_emit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_match_id text;
  v_patch jsonb := '{}';
  v_extra jsonb;
  v_type text := 'match_update';
  v_old_status text;
  v_state jsonb;
  v_result_changed boolean := false;
BEGIN
  -- NEW.match_id is named in each branch: the match table has no such column, and PL/pgSQL
  -- compiles this function per table, an expression only when it first runs.
  CASE TG_TABLE_NAME
    WHEN 'match' THEN
      v_match_id := NEW.id;
      v_patch := matchcast_match_snapshot(NEW.id);
      IF v_patch IS NULL THEN
        RETURN NULL;
      END IF;
      v_old_status := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD)->>'status' END;
      IF TG_OP = 'INSERT' OR v_old_status IS DISTINCT FROM NEW.status THEN
        v_type := 'match_status';
        v_extra := jsonb_build_object('old_status', v_old_status, 'match_date', v_patch->'kickoff_at');
      ELSE
        v_extra := '{"update_type": "match"}';
      END IF;
    WHEN 'scoreboard' THEN
      v_match_id := NEW.match_id;
      v_patch := jsonb_build_object('score', jsonb_build_object('home', NEW.home_score, 'away', NEW.away_score));
      v_extra := '{"update_type": "score"}';
      -- 005's scoreboard standings triggers fired for a new row, a new score or another match.
      v_result_changed := TG_OP = 'INSERT'
        OR (OLD.home_score, OLD.away_score, OLD.match_id) IS DISTINCT FROM (NEW.home_score, NEW.away_score, NEW.match_id);
    WHEN 'gameclock' THEN
      v_match_id := NEW.match_id;
      v_patch := jsonb_build_object('minute', NEW.minute, 'period', NEW.period);
      v_extra := '{"update_type": "clock"}';
    WHEN 'football_event' THEN
      v_match_id := NEW.match_id;
      v_type := 'match_event';
      v_extra := jsonb_build_object('event', jsonb_strip_nulls(to_jsonb(NEW) - 'match_id' - 'created_at'));
    WHEN 'playclock' THEN
      v_match_id := NEW.match_id;
      v_extra := jsonb_build_object('update_type', 'playclock', 'playclock', to_jsonb(NEW) - 'match_id' - 'updated_at');
    WHEN 'matchdata' THEN
      v_match_id := NEW.match_id;
      v_extra := jsonb_build_object('update_type', 'matchdata', 'matchdata', to_jsonb(NEW) - 'match_id');
    WHEN 'player_match' THEN
      v_match_id := NEW.match_id;
      v_extra := jsonb_build_object('update_type', 'player', 'player', to_jsonb(NEW) - 'match_id');
  END CASE;
  v_state := matchcast_append_match(v_match_id, TG_TABLE_NAME, v_type, v_patch, v_extra);
  IF v_result_changed AND v_state->>'status' = 'finished' THEN
    INSERT INTO standing_due (league_id) VALUES (v_state->'league'->>'id');
  END IF;
  RETURN NULL;
END $$;

-- A write that changes what the join would give, without an event of its own, forgets the state
-- of the matches it touches; their next event computes it again. TRUNCATE forgets every state.
CREATE FUNCTION matchcast_forget_match_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_matches text[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE stream_counter SET state = NULL WHERE state IS NOT NULL;
    RETURN NULL;
  END IF;
  CASE TG_TABLE_NAME
    WHEN 'team' THEN
      SELECT array_agg(m.id) INTO v_matches FROM match m WHERE OLD.id IN (m.home_team_id, m.away_team_id);
    WHEN 'league' THEN
      SELECT array_agg(m.id) INTO v_matches FROM match m WHERE m.league_id = OLD.id;
    WHEN 'match' THEN
      v_matches := ARRAY[OLD.id];
    ELSE -- scoreboard, gameclock
      v_matches := ARRAY[OLD.match_id];
  END CASE;
  UPDATE stream_counter SET state = NULL
   WHERE stream IN (SELECT 'match:' || id FROM unnest(v_matches) id) AND state IS NOT NULL;
  RETURN NULL;
END $$;

CREATE TRIGGER team_state_forget AFTER UPDATE OF name ON team FOR EACH ROW
  WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION matchcast_forget_match_state();
CREATE TRIGGER league_state_forget AFTER UPDATE OF name, private ON league FOR EACH ROW
  WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.private IS DISTINCT FROM NEW.private)
  EXECUTE FUNCTION matchcast_forget_match_state();
CREATE TRIGGER match_state_forget AFTER UPDATE OF home_team_id, away_team_id, league_id ON match FOR EACH ROW
  WHEN (OLD.home_team_id IS DISTINCT FROM NEW.home_team_id OR OLD.away_team_id IS DISTINCT FROM NEW.away_team_id
        OR OLD.league_id IS DISTINCT FROM NEW.league_id)
  EXECUTE FUNCTION matchcast_forget_match_state();
CREATE TRIGGER scoreboard_state_forget AFTER DELETE OR UPDATE OF match_id ON scoreboard FOR EACH ROW
  EXECUTE FUNCTION matchcast_forget_match_state();
CREATE TRIGGER gameclock_state_forget AFTER DELETE OR UPDATE OF match_id ON gameclock FOR EACH ROW
  EXECUTE FUNCTION matchcast_forget_match_state();
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['league', 'team', 'match', 'scoreboard', 'gameclock'] LOOP
    EXECUTE format('CREATE TRIGGER %1$s_state_forget_all AFTER TRUNCATE ON %1$I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION matchcast_forget_match_state()', t);
  END LOOP;
END $$;

-- Owner's rights (003's pattern; CREATE OR REPLACE resets them): the trigger functions run as the
-- owner with search_path pinned, and nothing here is callable by anyone else.
DO $$
DECLARE
  v_schema text;
  v_function text;
BEGIN
  SELECT n.nspname INTO STRICT v_schema
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.oid = 'matchcast_emit()'::regprocedure;
  FOREACH v_function IN ARRAY ARRAY['matchcast_emit()', 'matchcast_forget_match_state()', 'matchcast_standing_due()'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', v_function, v_schema);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION matchcast_forget_match_state() FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_standing_due() FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_append_match(text, text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_write_event(text, bigint, text, text, text, jsonb, timestamptz) FROM PUBLIC;
