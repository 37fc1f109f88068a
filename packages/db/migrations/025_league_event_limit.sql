-- A limit on a league stream's event's JSON, as 022's on a match stream's.
--
-- A league's table (league_table on league:<id>, computed by 005's matchcast_refresh_standing
-- at the commit of the write that changed it) names every team of the league, and a team's
-- name had no limit past the crawler's own checks: a login with the crawler's rights inserting a
-- team named with 5 MB made a 5 MB league_table event, written and delivered to every subscriber
-- of the league (as every later one, and every resume across them), each of whom it closed as a
-- SLOW_CONSUMER (a frame past WS_MAX_BUFFERED_BYTES, 1 MiB by default). A table grows by
-- ~180-450 bytes a team (names of at most 200 characters, ids of 64), and the write refused
-- would be whichever changed it: a match result. So the limit is not 022's 64 KiB (~150 teams:
-- a cup of every club of a country has several hundred) but 1 MiB, the default send buffer:
-- ~2,300 teams at the longest names and ~5,700 at usual ones, where a real competition has
-- 10-800. Past it the write that changed the table fails with SQLSTATE 54000 (at its commit:
-- the refresh is deferred), rolled back whole; the crawler takes it as OP_REJECTED and goes on.
-- Other streams' events come from the API (announcements, notifications, purchases), which
-- checks their sizes.
CREATE OR REPLACE FUNCTION matchcast_write_event(p_stream text, p_seq bigint, p_source text, p_type text, p_match_id text,
                                                 p_data jsonb, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
  v_payload text;
  v_bytes integer;
BEGIN
  INSERT INTO outbox (stream, seq, source, type, match_id, data, created_at)
  VALUES (p_stream, p_seq, p_source, p_type, p_match_id, p_data, p_at)
  RETURNING id INTO v_id;

  v_payload := json_build_object(
    'id', v_id::text, 'stream', p_stream, 'seq', p_seq, 'type', p_type, 'match_id', p_match_id,
    'data', p_data, 'timestamp', to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text;
  v_bytes := octet_length(v_payload);
  IF p_stream LIKE 'match:%' AND v_bytes > 65536 THEN
    RAISE EXCEPTION 'event too large: % % is % bytes of JSON (at most 65536)', p_stream, p_type, v_bytes
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF p_stream LIKE 'league:%' AND v_bytes > 1048576 THEN
    RAISE EXCEPTION 'event too large: % % is % bytes of JSON (at most 1048576)', p_stream, p_type, v_bytes
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF v_bytes > 7900 THEN
    v_payload := json_build_object('ref', true, 'id', v_id::text, 'stream', p_stream, 'seq', p_seq)::text;
  END IF;
  PERFORM matchcast_notify(p_source || '_change', v_payload);
END $$;
