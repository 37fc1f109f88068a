-- The delivery canary (docs/operations.md, "Delivery canary"): every few seconds each gateway
-- appends a tiny event to its own stream canary:<gateway id> through matchcast_append — the
-- same outbox row, seq and NOTIFY (canary_change) as every event — and times its arrival back
-- through the listener and Redis (or its own LISTEN in fallback). Canary streams are internal:
-- routing sends them nowhere and no client may subscribe to them.
--
-- Bounded by construction, whatever the outbox retention: each call keeps its stream to its
-- last few rows, and forgets the canary streams of gateways silent for an hour (their counter
-- row and outbox rows), so restarts with new gateway ids leave nothing behind for long.

CREATE INDEX stream_counter_canary_idx ON stream_counter (updated_at) WHERE stream LIKE 'canary:%';

CREATE FUNCTION matchcast_canary(p_gateway_id text, p_token text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_stream text := 'canary:' || p_gateway_id;
BEGIN
  IF p_gateway_id IS NULL OR p_gateway_id !~ '^[A-Za-z0-9_.-]{1,64}$' THEN
    RAISE EXCEPTION 'gateway id must match ^[A-Za-z0-9_.-]{1,64}$' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_token IS NULL OR p_token !~ '^[A-Za-z0-9_-]{1,64}$' THEN
    RAISE EXCEPTION 'canary token must match ^[A-Za-z0-9_-]{1,64}$' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM matchcast_append(v_stream, 'canary', 'canary', NULL, jsonb_build_object('token', p_token));
  DELETE FROM outbox
   WHERE stream = v_stream AND seq <= (SELECT last_seq - 10 FROM stream_counter WHERE stream = v_stream);
  WITH gone AS (
    DELETE FROM stream_counter
     WHERE stream LIKE 'canary:%' AND updated_at < now() - interval '1 hour'
    RETURNING stream)
  DELETE FROM outbox WHERE stream IN (SELECT stream FROM gone);
END $$;

-- Owner's rights (as matchcast_emit in 003): the gateway role needs only EXECUTE, never INSERT on
-- outbox or a write on stream_counter, and can append to canary streams only.
DO $$
DECLARE v_schema text;
BEGIN
  SELECT n.nspname INTO STRICT v_schema
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.oid = 'matchcast_canary(text, text)'::regprocedure;
  EXECUTE format('ALTER FUNCTION matchcast_canary(text, text) SECURITY DEFINER SET search_path = %I, pg_temp', v_schema);
END $$;
REVOKE ALL ON FUNCTION matchcast_canary(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION matchcast_canary(text, text) TO matchcast_gateway;
