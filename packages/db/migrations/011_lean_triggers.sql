-- Leaner per-commit work on the outbox path (docs/benchmarks.md, "NOTIFY path ceiling").
-- Measured with track_functions = all under the bench's score/clock writes: the deferred
-- standings check (005) cost about as much per score update as the six-table snapshot, although
-- it only has work when the match is finished. Same events, seqs, outbox rows and payloads.
-- (Writing the stream counter and the outbox row in one statement, a data-modifying CTE, was
-- tried too and measured no faster: matchcast_append stays as 002 wrote it.)

-- 005's function with the score path cut to one lookup: a score change of a match that is not
-- finished (nearly all of them) returns before any row is turned into JSON or any league loop
-- is planned. Which leagues are refreshed, and when (at commit), is unchanged.
CREATE OR REPLACE FUNCTION matchcast_standing_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_leagues text[];
  v_league text;
  v_match text;
BEGIN
  IF TG_TABLE_NAME = 'scoreboard' THEN
    -- Only a finished match's score is a result (the match row may be gone: cascade).
    IF TG_OP = 'DELETE' THEN
      v_match := OLD.match_id;
    ELSE
      v_match := NEW.match_id;
    END IF;
    SELECT array_agg(m.league_id) INTO v_leagues FROM match m WHERE m.id = v_match AND m.status = 'finished';
    IF v_leagues IS NULL THEN
      RETURN NULL;
    END IF;
  ELSE
    -- match and team: the league before and after the change.
    v_leagues := ARRAY[CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD)->>'league_id' END,
                       CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW)->>'league_id' END];
  END IF;
  FOR v_league IN SELECT DISTINCT l FROM unnest(v_leagues) l WHERE l IS NOT NULL LOOP
    PERFORM matchcast_refresh_standing(v_league);
  END LOOP;
  RETURN NULL;
END $$;

-- CREATE OR REPLACE resets SECURITY DEFINER and the pinned search_path (005's pattern); grants
-- and revokes are kept.
DO $$
DECLARE v_schema text;
BEGIN
  SELECT n.nspname INTO STRICT v_schema
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.oid = 'matchcast_standing_trigger()'::regprocedure;
  EXECUTE format('ALTER FUNCTION matchcast_standing_trigger() SECURITY DEFINER SET search_path = %I, pg_temp', v_schema);
END $$;
