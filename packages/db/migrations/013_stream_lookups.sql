-- Every match event scanned the whole stream_counter table (docs/benchmarks.md, "NOTIFY path
-- ceiling"). A function's parameters and variables take the collation of its call, and
-- matchcast_emit passes TG_TABLE_NAME, a `name`, whose collation is "C"; a non-default implicit
-- collation wins over the default one, so matchcast_append_match compared `stream = v_stream`
-- under "C", which the primary key (the database's collation) cannot answer: a sequential scan
-- of every stream's counter row, on every event, since 002 (where matchcast_append had the same
-- call). The match snapshot's lookups by match id had the same problem.
--
-- The append functions now pin their keys to the database's collation, whatever their caller's
-- arguments carry. Same events, seqs, rows and payloads (packages/db/test/lean-triggers.test.ts);
-- packages/db/test/stream-lookups.test.ts checks the plans of every kind of write.

-- 012's function; the keys are declared COLLATE "default".
CREATE OR REPLACE FUNCTION matchcast_append(p_stream text, p_source text, p_type text, p_match_id text, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_stream text COLLATE "default" := p_stream;
  v_seq bigint;
  v_at timestamptz := clock_timestamp();
BEGIN
  UPDATE stream_counter SET last_seq = last_seq + 1, updated_at = matchcast_touched(updated_at, v_at) WHERE stream = v_stream
  RETURNING last_seq INTO v_seq;
  IF NOT FOUND THEN
    INSERT INTO stream_counter AS c (stream, last_seq, updated_at) VALUES (v_stream, 1, v_at)
    ON CONFLICT (stream) DO UPDATE SET last_seq = c.last_seq + 1, updated_at = v_at
    RETURNING last_seq INTO v_seq;
  END IF;
  PERFORM matchcast_write_event(v_stream, v_seq, p_source, p_type, p_match_id, p_data, v_at);
END $$;

-- 012's function; the keys are declared COLLATE "default".
CREATE OR REPLACE FUNCTION matchcast_append_match(p_match_id text, p_source text, p_type text, p_patch jsonb, p_extra jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_match_id text COLLATE "default" := p_match_id;
  v_stream text COLLATE "default" := 'match:' || p_match_id;
  v_at timestamptz := clock_timestamp();
  v_seq bigint;
  v_state jsonb;
BEGIN
  UPDATE stream_counter
     SET last_seq = last_seq + 1, updated_at = matchcast_touched(updated_at, v_at),
         state = COALESCE(state, matchcast_match_snapshot(v_match_id)) || p_patch
   WHERE stream = v_stream
  RETURNING last_seq, state INTO v_seq, v_state;
  IF NOT FOUND THEN
    INSERT INTO stream_counter AS c (stream, last_seq, updated_at, state)
    VALUES (v_stream, 1, v_at, matchcast_match_snapshot(v_match_id) || p_patch)
    ON CONFLICT (stream) DO UPDATE
      SET last_seq = c.last_seq + 1, updated_at = v_at, state = COALESCE(c.state, matchcast_match_snapshot(v_match_id)) || p_patch
    RETURNING last_seq, state INTO v_seq, v_state;
  END IF;
  -- The match row exists (every table here references it), so the join cannot come back empty.
  PERFORM matchcast_write_event(v_stream, v_seq, p_source, p_type, v_match_id, v_state || p_extra, v_at);
  RETURN v_state;
END $$;
