-- The outbox: every change that clients see, as one row per event in a stream with a
-- contiguous per-stream seq. Seqs are handed out under a row lock on the stream's counter,
-- held until commit, so seq order is commit order within a stream and there are no gaps.

CREATE TABLE stream_counter (
  stream      text PRIMARY KEY,
  last_seq    bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stream_counter_updated_idx ON stream_counter (updated_at);

CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  stream      text NOT NULL,
  seq         bigint NOT NULL,
  source      text NOT NULL,
  type        text NOT NULL,
  match_id    text,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (stream, seq)
);
CREATE INDEX outbox_created_idx ON outbox (created_at);

-- Appends one event to a stream and notifies '<source>_change' in the same transaction.
-- The NOTIFY payload is the event itself, or a reference when it would exceed the
-- 8000-byte payload limit (receivers then read the row by id).
CREATE FUNCTION matchcast_append(p_stream text, p_source text, p_type text, p_match_id text, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_seq bigint;
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_payload text;
BEGIN
  INSERT INTO stream_counter AS c (stream, last_seq, updated_at) VALUES (p_stream, 1, v_at)
  ON CONFLICT (stream) DO UPDATE SET last_seq = c.last_seq + 1, updated_at = v_at
  RETURNING last_seq INTO v_seq;

  INSERT INTO outbox (stream, seq, source, type, match_id, data, created_at)
  VALUES (p_stream, v_seq, p_source, p_type, p_match_id, p_data, v_at)
  RETURNING id INTO v_id;

  v_payload := json_build_object(
    'id', v_id::text, 'stream', p_stream, 'seq', v_seq, 'type', p_type, 'match_id', p_match_id,
    'data', p_data, 'timestamp', to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text;
  IF octet_length(v_payload) > 7900 THEN
    v_payload := json_build_object('ref', true, 'id', v_id::text, 'stream', p_stream, 'seq', v_seq)::text;
  END IF;
  PERFORM pg_notify(p_source || '_change', v_payload);
END $$;

-- The match state that every match message carries in `data` (seed 000's fields).
-- PL/pgSQL, not SQL: a SQL-language function called from a trigger is re-planned on every
-- call (~300 µs for this six-table join); PL/pgSQL caches the plan per session (~30 µs).
CREATE FUNCTION matchcast_match_snapshot(p_match_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_snapshot jsonb;
BEGIN
  SELECT jsonb_build_object(
    'match_id', m.id,
    'status', m.status,
    'minute', COALESCE(gc.minute, 0),
    'period', COALESCE(gc.period, 'pre_match'),
    'score', jsonb_build_object('home', COALESCE(sb.home_score, 0), 'away', COALESCE(sb.away_score, 0)),
    'home_team', jsonb_build_object('id', ht.id, 'name', ht.name),
    'away_team', jsonb_build_object('id', at.id, 'name', at.name),
    'league', jsonb_build_object('id', l.id, 'name', l.name),
    'kickoff_at', to_char(m.kickoff_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  INTO v_snapshot
  FROM match m
  JOIN team ht ON ht.id = m.home_team_id
  JOIN team at ON at.id = m.away_team_id
  JOIN league l ON l.id = m.league_id
  LEFT JOIN scoreboard sb ON sb.match_id = m.id
  LEFT JOIN gameclock gc ON gc.match_id = m.id
  WHERE m.id = p_match_id;
  RETURN v_snapshot;
END $$;

-- One trigger function for all seven tables: the table name picks the message.
CREATE FUNCTION matchcast_emit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  -- to_jsonb: PL/pgSQL cannot name a column that only some of the seven tables have.
  v_new jsonb := to_jsonb(NEW);
  v_match_id text := CASE WHEN TG_TABLE_NAME = 'match' THEN v_new->>'id' ELSE v_new->>'match_id' END;
  v_data jsonb := matchcast_match_snapshot(v_match_id);
  v_row jsonb := v_new - 'match_id';
  v_type text := 'match_update';
BEGIN
  IF v_data IS NULL THEN
    RETURN NULL;
  END IF;
  CASE TG_TABLE_NAME
    WHEN 'match' THEN
      IF TG_OP = 'INSERT' OR to_jsonb(OLD)->>'status' IS DISTINCT FROM v_new->>'status' THEN
        v_type := 'match_status';
        v_data := v_data || jsonb_build_object(
          'old_status', CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD)->>'status' END,
          'match_date', v_data->'kickoff_at');
      ELSE
        v_data := v_data || jsonb_build_object('update_type', 'match');
      END IF;
    WHEN 'football_event' THEN
      v_type := 'match_event';
      v_data := v_data || jsonb_build_object('event', jsonb_strip_nulls(v_row - 'created_at'));
    WHEN 'scoreboard' THEN
      v_data := v_data || jsonb_build_object('update_type', 'score');
    WHEN 'gameclock' THEN
      v_data := v_data || jsonb_build_object('update_type', 'clock');
    WHEN 'playclock' THEN
      v_data := v_data || jsonb_build_object('update_type', 'playclock', 'playclock', v_row - 'updated_at');
    WHEN 'matchdata' THEN
      v_data := v_data || jsonb_build_object('update_type', 'matchdata', 'matchdata', v_row);
    WHEN 'player_match' THEN
      v_data := v_data || jsonb_build_object('update_type', 'player', 'player', v_row);
  END CASE;
  PERFORM matchcast_append('match:' || v_match_id, TG_TABLE_NAME, v_type, v_match_id, v_data);
  RETURN NULL;
END $$;

-- Updates fire only when the row really changed, so a no-op write is not an event.
CREATE TRIGGER match_emit_insert AFTER INSERT ON match FOR EACH ROW EXECUTE FUNCTION matchcast_emit();
CREATE TRIGGER match_emit_update AFTER UPDATE ON match FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.kickoff_at IS DISTINCT FROM NEW.kickoff_at)
  EXECUTE FUNCTION matchcast_emit();
CREATE TRIGGER football_event_emit_insert AFTER INSERT ON football_event
  FOR EACH ROW EXECUTE FUNCTION matchcast_emit();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['matchdata', 'scoreboard', 'playclock', 'gameclock', 'player_match'] LOOP
    EXECUTE format('CREATE TRIGGER %1$s_emit_insert AFTER INSERT ON %1$I FOR EACH ROW EXECUTE FUNCTION matchcast_emit()', t);
    EXECUTE format('CREATE TRIGGER %1$s_emit_update AFTER UPDATE ON %1$I FOR EACH ROW '
                   'WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION matchcast_emit()', t);
  END LOOP;
END $$;
