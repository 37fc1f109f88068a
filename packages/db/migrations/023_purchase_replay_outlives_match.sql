-- A purchase retried with its idempotency key after its match's row was deleted (or after the
-- buyer left the private league of the match) was answered 404 NOT_FOUND: the match was looked
-- for (and the API checked the league's visibility) before the key. An idempotent request
-- answers what it answered the first time, so the key is now looked for first, under the
-- buyer's lock as 019 made it, and only a request that makes a new purchase needs the match to
-- exist and to be visible to the buyer — which this function now checks itself, so a retry's
-- answer does not depend on the caller checking it first. The rest is 019's function as it was.
-- CREATE OR REPLACE resets a function's attributes: owner's rights and the pinned search_path
-- are set again below, as 019 did.

CREATE OR REPLACE FUNCTION matchcast_create_purchase(p_user text, p_match_id text, p_quantity integer, p_key text,
  OUT outcome text, OUT purchase jsonb) LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_league text;
  v_match boolean;
  v_row purchase;
BEGIN
  -- KEY SHARE: the match cannot be deleted while the purchase is being made.
  SELECT m.status, m.league_id INTO v_status, v_league FROM match m WHERE m.id = p_match_id FOR KEY SHARE;
  v_match := FOUND;
  IF NOT v_match AND p_key IS NULL THEN
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
  -- A private league's match is for its members only: anyone else is told there is no such match.
  IF NOT v_match OR NOT matchcast_league_visible(v_league, p_user, false) THEN
    outcome := 'no_match';
    RETURN;
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
