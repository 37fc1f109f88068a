-- Limits on what a database login with the crawler's rights can write past the crawler's own checks.
--
-- 1. An outbox event had no size limit. The crawler checks its provider's values' lengths, but not
-- those of matchdata.extra or football_event.detail (any object its body limit lets through,
-- 5 MiB by default), and its database login — or any login in matchcast_crawler — writes any
-- value at all (football_event.player of 5 MB): every such row became an event of that size on
-- its match's stream. 20 goals with a 5 MB player name took a gateway from 80 MB to 750 MB, and
-- every subscriber of the match (and of its league, teams, live:all and all) was closed as a
-- SLOW_CONSUMER (each frame is past WS_MAX_BUFFERED_BYTES, 1 MiB), then again on every resume,
-- which replays them; the notifier read 100 of them per poll.
-- A match stream's event's JSON (the payload the function already builds) is now at most 65,536
-- bytes; a larger one fails its statement with SQLSTATE 54000 (program_limit_exceeded), so the
-- write is refused, rolled back with its transaction. A real one is 1-2 KB (names are at most 200
-- characters); the crawler takes the refusal as OP_REJECTED (not retried) and goes on. Other
-- streams' events are computed by the owner's code (a league's table grows with its teams) or
-- checked by the API. Costs nothing: the payload's length was measured already (for the
-- 8,000-byte NOTIFY limit).
--
-- 2. League, team and match ids had no format (the crawler checks its provider's against
-- ID_PATTERN; follow, notification, purchase and announcement check theirs so): a match inserted
-- as 'bad id' made events on a stream no channel can name. The listener and a gateway's own
-- LISTEN drop them as invalid, yet a catch-up (after every Redis outage) read them from the
-- outbox and delivered them on `all`; a client that sends such a stream back as a `resume` key
-- has its whole subscribe refused (INVALID_CHANNEL). NOT VALID: rows already written are not
-- checked (the migration never fails on them); every insert and update is.
ALTER TABLE league ADD CONSTRAINT league_id_format CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$') NOT VALID;
ALTER TABLE team ADD CONSTRAINT team_id_format CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$') NOT VALID;
ALTER TABLE match ADD CONSTRAINT match_id_format CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$') NOT VALID;

-- 018's function, refusing a match stream's event past the limit.
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
  IF v_bytes > 65536 AND p_stream LIKE 'match:%' THEN
    RAISE EXCEPTION 'event too large: % % is % bytes of JSON (at most 65536)', p_stream, p_type, v_bytes
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF v_bytes > 7900 THEN
    v_payload := json_build_object('ref', true, 'id', v_id::text, 'stream', p_stream, 'seq', p_seq)::text;
  END IF;
  PERFORM matchcast_notify(p_source || '_change', v_payload);
END $$;
