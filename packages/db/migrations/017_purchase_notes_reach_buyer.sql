-- A purchase's notifications went through matchcast_notify_users, whose private-league filter
-- (008, 015) keeps a private league's notifications to its members: a buyer removed from the
-- league after buying (or whose league turned private) never heard that the purchase was
-- cancelled or refunded. A purchase's notification names its own buyer, who may always have it.
-- The writing half of matchcast_notify_users (lock the users' streams, insert, append, NOTIFY:
-- 015's function from the lock on) is now matchcast_write_notifications, which the purchase
-- writer calls; matchcast_notify_users is the filter, then the writer, as before. Neither
-- changes what is written. CREATE OR REPLACE resets a function's attributes: matchcast_notify_users'
-- owner's rights and pinned search_path are set again below, as 015 did; the writer runs only
-- inside those owner-rights functions (no one else may call it).

CREATE FUNCTION matchcast_write_notifications(
  p_user_ids text[], p_title text, p_message text, p_type text, p_match_id text, p_team_id text,
  p_league_id text, p_data jsonb, p_priority text, p_expires_at timestamptz, p_source_key text)
RETURNS SETOF notification LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz := clock_timestamp();
BEGIN
  PERFORM matchcast_lock_user_streams(p_user_ids);
  RETURN QUERY
  WITH created AS (
    INSERT INTO notification (user_id, title, message, type, match_id, team_id, league_id, data, priority, expires_at, source_key)
    SELECT DISTINCT u, p_title, p_message, p_type, p_match_id, p_team_id, p_league_id, COALESCE(p_data, '{}'),
           COALESCE(p_priority, 'normal'), p_expires_at, p_source_key
      FROM unnest(p_user_ids) AS u
    ON CONFLICT (user_id, source_key) DO NOTHING
    RETURNING *
  ), events AS (
    -- The statement does not see its own inserts (one per user): the new row is counted by hand.
    SELECT 'user:' || c.user_id AS stream, c.match_id,
           matchcast_notification_json(c) || jsonb_build_object('unread_count', matchcast_unread_count(c.user_id)
             + CASE WHEN NOT c.is_read AND (c.expires_at IS NULL OR c.expires_at > now()) THEN 1 ELSE 0 END) AS data
      FROM created c
  ), seqs AS (
    -- matchcast_lock_user_streams made every counter row and holds their locks.
    UPDATE stream_counter sc SET last_seq = sc.last_seq + 1, updated_at = v_at
      FROM events e WHERE sc.stream = e.stream
    RETURNING sc.stream, sc.last_seq
  ), appended AS (
    INSERT INTO outbox (stream, seq, source, type, match_id, data, created_at)
    SELECT e.stream, s.last_seq, 'notification', 'notification', e.match_id, e.data, v_at
      FROM events e JOIN seqs s USING (stream)
    RETURNING id, stream, seq, match_id, data
  ), notified AS (
    SELECT count(pg_notify('notification_change',
             CASE WHEN octet_length(p.payload) > 7900
                  THEN json_build_object('ref', true, 'id', a.id::text, 'stream', a.stream, 'seq', a.seq)::text
                  ELSE p.payload END)) AS n
      FROM appended a
      CROSS JOIN LATERAL (SELECT json_build_object(
        'id', a.id::text, 'stream', a.stream, 'seq', a.seq, 'type', 'notification', 'match_id', a.match_id,
        'data', a.data, 'timestamp', to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS payload) p
  )
  SELECT c.* FROM created c CROSS JOIN notified ORDER BY c.id;
END $$;
REVOKE ALL ON FUNCTION matchcast_write_notifications(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION matchcast_notify_users(
  p_user_ids text[], p_title text, p_message text, p_type text, p_match_id text, p_team_id text,
  p_league_id text, p_data jsonb, p_priority text, p_expires_at timestamptz, p_source_key text)
RETURNS SETOF notification LANGUAGE plpgsql AS $$
DECLARE
  -- Every private league the notification names: its own, its team's and its match's.
  v_private text[] := ARRAY(SELECT l.id FROM league l WHERE l.private AND l.id IN (
                              p_league_id, (SELECT league_id FROM team WHERE id = p_team_id),
                              (SELECT league_id FROM match WHERE id = p_match_id)));
BEGIN
  -- A private league's notifications reach its members only, of every private league named.
  -- 008 judged by the first id given alone: a public league_id beside a private league's
  -- match_id reached everyone. One lookup per call, which carries up to 1,000 users.
  IF cardinality(v_private) > 0 THEN
    p_user_ids := ARRAY(SELECT u FROM unnest(p_user_ids) AS u
                         WHERE NOT EXISTS (SELECT 1 FROM unnest(v_private) AS p(league_id)
                                            WHERE NOT EXISTS (SELECT 1 FROM league_member m
                                                               WHERE m.league_id = p.league_id AND m.user_id = u)));
  END IF;
  RETURN QUERY SELECT * FROM matchcast_write_notifications(p_user_ids, p_title, p_message, p_type, p_match_id, p_team_id,
    p_league_id, p_data, p_priority, p_expires_at, p_source_key);
END $$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION matchcast_notify_users(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text) '
                 'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE ALL ON FUNCTION matchcast_notify_users(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION matchcast_purchase_changed(p purchase, p_old_status text) RETURNS void LANGUAGE plpgsql AS $$
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
  PERFORM matchcast_write_notifications(ARRAY[p.user_id],
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
