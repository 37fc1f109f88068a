-- A buyer could create purchases without end: each a row, a purchase stream and a notification
-- on the buyer's stream, so one account could grow the database and the bus at will. Now at most
-- 20 of a buyer's purchases may be pending (waiting for payment) at once; one more is refused
-- (outcome too_many_pending, the API's 409 TOO_MANY_PENDING_PURCHASES) until the payment side
-- moves one on. A retry of an idempotency key already used still answers with its purchase.
-- The rest is 006's function as it was. CREATE OR REPLACE resets a function's attributes:
-- owner's rights and the pinned search_path are set again below, as 006 did.

CREATE OR REPLACE FUNCTION matchcast_create_purchase(p_user text, p_match_id text, p_quantity integer, p_key text,
  OUT outcome text, OUT purchase jsonb) LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_row purchase;
BEGIN
  -- KEY SHARE: the match cannot be deleted while the purchase is being made.
  SELECT m.status INTO v_status FROM match m WHERE m.id = p_match_id FOR KEY SHARE;
  IF NOT FOUND THEN
    outcome := 'no_match';
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_row FROM purchase p WHERE p.user_id = p_user AND p.idempotency_key = p_key;
    IF FOUND THEN
      outcome := CASE WHEN v_row.match_id = p_match_id AND v_row.quantity = p_quantity THEN 'existing' ELSE 'key_reused' END;
      purchase := matchcast_purchase_json(v_row);
      RETURN;
    END IF;
  END IF;
  IF v_status IN ('finished', 'cancelled') THEN
    outcome := 'not_on_sale';
    RETURN;
  END IF;
  -- One buyer's purchases are counted one request at a time: concurrent requests cannot all see
  -- room for one more. The lock is the buyer's stream counter row, held to commit, which the
  -- purchase's notification takes anyway.
  PERFORM matchcast_lock_user_streams(ARRAY[p_user]);
  IF (SELECT count(*) FROM purchase p WHERE p.user_id = p_user AND p.status = 'pending') >= 20 THEN
    outcome := 'too_many_pending';
    RETURN;
  END IF;
  INSERT INTO purchase (user_id, match_id, quantity, idempotency_key) VALUES (p_user, p_match_id, p_quantity, p_key)
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    -- A concurrent request with the same key won the insert: answer with its purchase.
    SELECT * INTO v_row FROM purchase p WHERE p.user_id = p_user AND p.idempotency_key = p_key;
    outcome := CASE WHEN v_row.match_id = p_match_id AND v_row.quantity = p_quantity THEN 'existing' ELSE 'key_reused' END;
    purchase := matchcast_purchase_json(v_row);
    RETURN;
  END IF;
  PERFORM matchcast_purchase_changed(v_row, NULL);
  outcome := 'created';
  purchase := matchcast_purchase_json(v_row);
END $$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION matchcast_create_purchase(text, text, integer, text) '
                 'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE ALL ON FUNCTION matchcast_create_purchase(text, text, integer, text) FROM PUBLIC;
