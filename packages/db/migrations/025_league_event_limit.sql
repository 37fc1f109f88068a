-- 022's 64 KiB limit on an event's JSON, for league streams too.
--
-- A league's table (league_table on league:<id>, computed by 005's matchcast_refresh_standing
-- at the commit of the write that changed it) names every team of the league, and a team's
-- name had no limit past the crawler's own checks: a login with the crawler's rights inserting a
-- team named with 5 MB made a 5 MB league_table event, written and delivered to every subscriber
-- of the league (as every later one, and every resume across them). 022 left these streams out
-- ("a league's table grows with its teams"); it grows by ~200-450 bytes a team (names of at most
-- 200 characters, ids of 64), so 65,536 bytes is ~150 teams at the longest names and ~300 at
-- usual ones, where a real league has 10-40. Past it the write that changed the table fails
-- with SQLSTATE 54000 (at its commit: the refresh is deferred), rolled back whole; the crawler
-- takes it as OP_REJECTED and goes on, as for a match stream's. Other streams' events come from
-- the API (announcements, notifications, purchases), which checks their sizes.
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
  IF v_bytes > 65536 AND (p_stream LIKE 'match:%' OR p_stream LIKE 'league:%') THEN
    RAISE EXCEPTION 'event too large: % % is % bytes of JSON (at most 65536)', p_stream, p_type, v_bytes
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF v_bytes > 7900 THEN
    v_payload := json_build_object('ref', true, 'id', v_id::text, 'stream', p_stream, 'seq', p_seq)::text;
  END IF;
  PERFORM matchcast_notify(p_source || '_change', v_payload);
END $$;
