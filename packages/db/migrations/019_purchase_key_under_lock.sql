-- A retried purchase (the same idempotency key, sent again while the first was still being
-- made) looked for its key before it waited for the buyer's lock (016): when the first request
-- made the buyer's 20th pending purchase, the retries then counted 20 and were answered 409
-- TOO_MANY_PENDING_PURCHASES, although their purchase existed — a client told its checkout
-- failed when it had not. The key is now looked for after the lock, so a retry that waited
-- finds the purchase the request before it made. The rest is 016's function as it was.
-- CREATE OR REPLACE resets a function's attributes: owner's rights and the pinned search_path
-- are set again below, as 016 did.

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
  -- One buyer's purchases are made one request at a time, from the key's look-up to the insert:
  -- concurrent requests cannot all see room for one more, and a retry sees the purchase its
  -- twin made. The lock is the buyer's stream counter row, held to commit, which the
  -- purchase's notification takes anyway.
  PERFORM matchcast_lock_user_streams(ARRAY[p_user]);
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
  IF (SELECT count(*) FROM purchase p WHERE p.user_id = p_user AND p.status = 'pending') >= 20 THEN
    outcome := 'too_many_pending';
    RETURN;
  END IF;
  INSERT INTO purchase (user_id, match_id, quantity, idempotency_key) VALUES (p_user, p_match_id, p_quantity, p_key)
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    -- Under the lock only a writer outside this function could have made it meanwhile.
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
