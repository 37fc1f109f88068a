-- Ticket purchases: a signed-in user buys 1..10 tickets for a match; the payment side (role
-- service, or an admin) moves the purchase through its life:
--
--   pending ──> paid ──> issued
--      │          │         │
--      v          v         v
--  cancelled   refunded <───┘
--
-- Every creation and status change is appended to the purchase's own stream `purchase:<id>`
-- (a `purchase` message) and becomes a notification for the purchaser, in the same
-- transaction as the row change, by the functions below (the only writers of purchase).
-- The stream's channel is visible to the purchaser and admins only (the gateway looks the
-- owner up: SELECT (id, user_id) below).

CREATE TABLE purchase (
  id               bigserial PRIMARY KEY,
  -- The buyer: the JWT's `sub`.
  user_id          text NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  -- No foreign key: a purchase is a record of money and must outlive its match's row.
  match_id         text NOT NULL CHECK (match_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'paid', 'issued', 'cancelled', 'refunded')),
  -- The caller's idempotency key: a retried POST finds the purchase it made instead of a second one.
  idempotency_key  text CHECK (char_length(idempotency_key) BETWEEN 1 AND 128),
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (user_id, idempotency_key)
);
-- A user's purchases, newest first (GET /api/me/purchases, keyset-paged by id).
CREATE INDEX purchase_user_idx ON purchase (user_id, id DESC);

-- The one list of allowed status changes.
CREATE FUNCTION matchcast_purchase_transition_allowed(p_from text, p_to text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT (p_from, p_to) IN (('pending', 'paid'), ('pending', 'cancelled'), ('paid', 'issued'), ('paid', 'refunded'), ('issued', 'refunded'))
$$;

-- The purchase as the API and its stream carry it.
CREATE FUNCTION matchcast_purchase_json(p purchase) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', p.id::text, 'user_id', p.user_id, 'match_id', p.match_id, 'quantity', p.quantity, 'status', p.status,
    'created_at', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updated_at', to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

-- Tells the purchase's stream and the purchaser: a `purchase` message (the row and the status it
-- left, NULL at creation) on purchase:<id>, and a notification (once per purchase and status:
-- source_key purchase:<id>:<status>). The outbox row carries no match_id: a purchase is not a
-- match event and must never be routed to the match's public channels.
CREATE FUNCTION matchcast_purchase_changed(p purchase, p_old_status text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_match text;
  v_tickets text := p.quantity || CASE WHEN p.quantity = 1 THEN ' ticket' ELSE ' tickets' END;
BEGIN
  PERFORM matchcast_append('purchase:' || p.id, 'purchase', 'purchase', NULL,
    matchcast_purchase_json(p) || jsonb_build_object('old_status', p_old_status));
  SELECT ht.name || ' v ' || at.name INTO v_match
    FROM match m JOIN team ht ON ht.id = m.home_team_id JOIN team at ON at.id = m.away_team_id
   WHERE m.id = p.match_id;
  v_tickets := v_tickets || ' for ' || COALESCE(v_match, 'match ' || p.match_id);
  PERFORM matchcast_notify_users(ARRAY[p.user_id],
    CASE p.status WHEN 'pending' THEN 'Tickets reserved' WHEN 'paid' THEN 'Payment received'
                  WHEN 'issued' THEN 'Tickets issued' WHEN 'cancelled' THEN 'Purchase cancelled'
                  ELSE 'Purchase refunded' END,
    CASE p.status WHEN 'pending' THEN v_tickets || ': awaiting payment.'
                  WHEN 'paid' THEN v_tickets || ': paid, your tickets are on their way.'
                  WHEN 'issued' THEN v_tickets || ': issued. Enjoy the match!'
                  WHEN 'cancelled' THEN v_tickets || ': cancelled.'
                  ELSE v_tickets || ': refunded.' END,
    'purchase', p.match_id, NULL, NULL,
    jsonb_build_object('purchase_id', p.id::text, 'status', p.status, 'old_status', p_old_status, 'quantity', p.quantity),
    CASE WHEN p.status IN ('cancelled', 'refunded') THEN 'high' ELSE 'normal' END, NULL,
    'purchase:' || p.id || ':' || p.status);
END $$;

-- Buys p_quantity tickets for a match. outcome:
--   created      a new pending purchase (its stream and the buyer's notification written)
--   existing     the buyer already made this purchase with this idempotency key (nothing new)
--   key_reused   the key was used for a different purchase (match or quantity differ)
--   no_match     no such match
--   not_on_sale  the match is finished or cancelled
CREATE FUNCTION matchcast_create_purchase(p_user text, p_match_id text, p_quantity integer, p_key text,
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

-- Moves a purchase to p_status. outcome:
--   changed             moved (its stream and the buyer's notification written)
--   unchanged           it already has that status: nothing written (a retried call is harmless)
--   invalid_transition  not an allowed change; purchase is the row as it is
--   not_found           no such purchase
CREATE FUNCTION matchcast_set_purchase_status(p_id bigint, p_status text, OUT outcome text, OUT purchase jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_row purchase;
  v_old text;
BEGIN
  SELECT * INTO v_row FROM purchase p WHERE p.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'not_found';
    RETURN;
  END IF;
  v_old := v_row.status;
  IF v_old = p_status THEN
    outcome := 'unchanged';
  ELSIF NOT matchcast_purchase_transition_allowed(v_old, p_status) THEN
    outcome := 'invalid_transition';
  ELSE
    UPDATE purchase p SET status = p_status, updated_at = clock_timestamp() WHERE p.id = p_id RETURNING * INTO v_row;
    PERFORM matchcast_purchase_changed(v_row, v_old);
    outcome := 'changed';
  END IF;
  purchase := matchcast_purchase_json(v_row);
END $$;

-- The writers run as the owner (they append to outbox and call matchcast_notify_users), with a
-- pinned search_path, like 004's notification functions. Only the API may call them.
DO $$
DECLARE
  v_schema text := current_schema();
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['matchcast_create_purchase(text, text, integer, text)', 'matchcast_set_purchase_status(bigint, text)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION matchcast_purchase_changed(purchase, text) FROM PUBLIC;

GRANT SELECT ON purchase TO matchcast_api;
GRANT EXECUTE ON FUNCTION matchcast_create_purchase(text, text, integer, text), matchcast_set_purchase_status(bigint, text)
  TO matchcast_api;
-- The gateway authorizes purchase:<id> channels by their owner, and reads nothing else of a purchase.
GRANT SELECT (id, user_id) ON purchase TO matchcast_gateway;
