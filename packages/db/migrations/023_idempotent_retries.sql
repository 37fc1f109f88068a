-- Retries of a create answer what the first request made.
--
-- 1. Purchases.
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


-- 2. Announcements. POST /api/announcements took no idempotency key: an admin's retry after a
-- timeout or a dropped connection published the announcement twice (an urgent one: every
-- follower notified twice). Like a purchase's, the key is the creator's own, looked for first, so
-- a retry answers the announcement it made; the same key for another target is key_reused (the
-- target is what an edit cannot change: an announcement for someone else is a new one).
-- The release before's 9-argument function stays, as a call of the new one without a key.

ALTER TABLE announcement ADD COLUMN idempotency_key text CHECK (char_length(idempotency_key) BETWEEN 1 AND 128);
CREATE UNIQUE INDEX announcement_key_idx ON announcement (created_by, idempotency_key);

CREATE FUNCTION matchcast_create_announcement(p_title text, p_message text, p_type text, p_priority text,
  p_target text, p_target_id text, p_starts_at timestamptz, p_expires_at timestamptz, p_created_by text, p_key text,
  OUT outcome text, OUT announcement jsonb) LANGUAGE plpgsql AS $$
DECLARE
  v_row announcement;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT * INTO v_row FROM announcement a WHERE a.created_by = p_created_by AND a.idempotency_key = p_key;
  END IF;
  IF v_row.id IS NULL THEN
    IF NOT matchcast_announcement_target_exists(p_target, p_target_id) THEN
      outcome := 'no_target';
      RETURN;
    END IF;
    INSERT INTO announcement (title, message, type, priority, target, target_id, starts_at, expires_at, created_by, state, idempotency_key)
    VALUES (p_title, p_message, p_type, COALESCE(p_priority, 'normal'), p_target, p_target_id, p_starts_at, p_expires_at,
            p_created_by, 'scheduled', p_key)
    ON CONFLICT (created_by, idempotency_key) DO NOTHING
    RETURNING * INTO v_row;
    IF FOUND THEN
      IF v_row.starts_at IS NULL OR v_row.starts_at <= clock_timestamp() THEN
        v_row := matchcast_publish_announcement(v_row);
      END IF;
      outcome := 'created';
      announcement := matchcast_announcement_json(v_row);
      RETURN;
    END IF;
    -- A concurrent request with the key committed first: its announcement.
    SELECT * INTO v_row FROM announcement a WHERE a.created_by = p_created_by AND a.idempotency_key = p_key;
  END IF;
  outcome := CASE WHEN v_row.target = p_target AND v_row.target_id IS NOT DISTINCT FROM p_target_id THEN 'existing' ELSE 'key_reused' END;
  announcement := matchcast_announcement_json(v_row);
END $$;

CREATE OR REPLACE FUNCTION matchcast_create_announcement(p_title text, p_message text, p_type text, p_priority text,
  p_target text, p_target_id text, p_starts_at timestamptz, p_expires_at timestamptz, p_created_by text,
  OUT outcome text, OUT announcement jsonb) LANGUAGE sql AS $$
  SELECT * FROM matchcast_create_announcement(p_title, p_message, p_type, p_priority, p_target, p_target_id,
    p_starts_at, p_expires_at, p_created_by, NULL)
$$;

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'matchcast_create_announcement(text, text, text, text, text, text, timestamptz, timestamptz, text)',
    'matchcast_create_announcement(text, text, text, text, text, text, timestamptz, timestamptz, text, text)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION matchcast_create_announcement(text, text, text, text, text, text, timestamptz, timestamptz, text, text)
  TO matchcast_api;
