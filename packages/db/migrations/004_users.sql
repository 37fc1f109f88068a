-- Users: follows and persisted notifications on the same outbox + per-stream seq foundation as
-- match updates. A user is the JWT's `sub` (matchcast is not an identity provider): there is no
-- user table, user ids are the channel id pattern.
--
-- Every change a user should see at once on every tab and device — a new notification, one
-- read, all read, one deleted — is appended to that user's `user:<id>` stream in the same
-- transaction as the row change, by the functions below (the only writers of notification).

CREATE TABLE follow (
  user_id     text NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  kind        text NOT NULL CHECK (kind IN ('team', 'league', 'match')),
  target_id   text NOT NULL CHECK (target_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, kind, target_id)
);
-- The notifier's question: who follows this team / league / match (keyset-paged by user).
CREATE INDEX follow_target_idx ON follow (kind, target_id, user_id);

CREATE TABLE notification (
  id          bigserial PRIMARY KEY,
  user_id     text NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  message     text NOT NULL CHECK (char_length(message) <= 2000),
  type        text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]{0,39}$'),
  match_id    text,
  team_id     text,
  league_id   text,
  data        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object' AND octet_length(data::text) <= 4096),
  priority    text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  is_read     boolean NOT NULL DEFAULT false,
  read_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at  timestamptz,
  -- What caused it, for idempotency: 'outbox:<id>' for the notifier, the caller's
  -- idempotency key for POST /api/notifications. One notification per user per source.
  source_key  text CHECK (char_length(source_key) <= 200),
  UNIQUE (user_id, source_key)
);
-- A user's list (newest first) and its counts: is_read and expires_at ride in the indexes, so
-- the counts are index-only scans once the visibility map is set (no heap visit per row).
CREATE INDEX notification_user_idx ON notification (user_id, id DESC) INCLUDE (is_read, expires_at);
CREATE INDEX notification_unread_idx ON notification (user_id, expires_at) WHERE NOT is_read;
CREATE INDEX notification_expires_idx ON notification (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX notification_created_idx ON notification (created_at);

-- The notifier's durable cursor over the outbox. Outbox ids are not committed in id order
-- (a lower id can commit later), so the cursor is a transaction horizon: every transaction
-- with an id below pg_snapshot_xmin of a snapshot has ended, so the rows it wrote are all
-- visible. The notifier reads rows with txid in [horizon, new xmin) and then moves the
-- horizon; (event_id, after_user) record how far into the current event it got.
ALTER TABLE outbox ADD COLUMN txid xid8;
ALTER TABLE outbox ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX outbox_match_txid_idx ON outbox (txid, id) WHERE stream LIKE 'match:%';

CREATE TABLE notifier_cursor (
  name        text PRIMARY KEY,
  horizon     xid8 NOT NULL,
  event_id    bigint NOT NULL DEFAULT 0,
  after_user  text NOT NULL DEFAULT '',
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change of a user's notifications takes the user's stream lock first: the row lock on
-- the stream's counter that matchcast_append takes anyway (the row is made at seq 0 if the user
-- has none yet). Taken first, it makes what a function reads — the rows mark-all-read marks, the
-- unread count every event carries — include every change with a lower seq on the user's
-- stream. Taken only at the append, a change committed meanwhile would get the lower seq but be
-- missed by the count (each tab would show a wrong number until it reloads) or left unread by a
-- mark-all-read that every tab applies to it. Users are locked in stream order, so batches over
-- overlapping users cannot deadlock.
CREATE FUNCTION matchcast_lock_user_streams(p_user_ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stream_counter (stream, last_seq)
  SELECT DISTINCT 'user:' || u, 0 FROM unnest(p_user_ids) AS u ORDER BY 1
  ON CONFLICT (stream) DO NOTHING;
  PERFORM 1 FROM stream_counter WHERE stream IN (SELECT 'user:' || u FROM unnest(p_user_ids) AS u) ORDER BY stream FOR UPDATE;
END $$;

-- Unread and not expired: what the bell shows.
CREATE FUNCTION matchcast_unread_count(p_user text) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT count(*)::integer FROM notification
   WHERE user_id = p_user AND NOT is_read AND (expires_at IS NULL OR expires_at > now())
$$;

-- The notification as the API and the user stream carry it.
CREATE FUNCTION matchcast_notification_json(n notification) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', n.id::text, 'user_id', n.user_id, 'title', n.title, 'message', n.message, 'type', n.type,
    'match_id', n.match_id, 'team_id', n.team_id, 'league_id', n.league_id, 'data', n.data,
    'priority', n.priority, 'is_read', n.is_read,
    'read_at', to_char(n.read_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'created_at', to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'expires_at', to_char(n.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

-- Creates one notification per user (skipping users who already have one for p_source_key)
-- and appends each to its user's stream as a `notification` event carrying the row and the
-- new unread count. Returns the rows created.
-- One statement for the whole batch, not a loop over matchcast_append: the notifier sends
-- 1,000 followers per call, and row by row the function calls cost about a millisecond per user.
-- The counter, outbox row and NOTIFY payload are matchcast_append's (002), set-based.
CREATE FUNCTION matchcast_notify_users(
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

-- Marks one of the user's notifications read; the first time, tells the user's stream.
-- Returns the row (NULL when the user has no such notification: the API answers 404).
CREATE FUNCTION matchcast_mark_read(p_user text, p_id bigint) RETURNS notification LANGUAGE plpgsql AS $$
DECLARE
  v_row notification;
BEGIN
  PERFORM matchcast_lock_user_streams(ARRAY[p_user]);
  UPDATE notification SET is_read = true, read_at = clock_timestamp()
   WHERE id = p_id AND user_id = p_user AND NOT is_read
  RETURNING * INTO v_row;
  IF FOUND THEN
    PERFORM matchcast_append('user:' || p_user, 'notification', 'notification_read', NULL, jsonb_build_object(
      'id', v_row.id::text, 'read_at', matchcast_notification_json(v_row)->'read_at',
      'unread_count', matchcast_unread_count(p_user)));
    RETURN v_row;
  END IF;
  SELECT * INTO v_row FROM notification WHERE id = p_id AND user_id = p_user;
  RETURN v_row;
END $$;

-- Marks all of the user's unread notifications read; returns how many it marked.
CREATE FUNCTION matchcast_mark_all_read(p_user text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
  v_at timestamptz;
BEGIN
  PERFORM matchcast_lock_user_streams(ARRAY[p_user]);
  v_at := clock_timestamp();
  UPDATE notification SET is_read = true, read_at = v_at WHERE user_id = p_user AND NOT is_read;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count > 0 THEN
    PERFORM matchcast_append('user:' || p_user, 'notification', 'notifications_read_all', NULL, jsonb_build_object(
      'marked_as_read', v_count, 'read_at', to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'unread_count', matchcast_unread_count(p_user)));
  END IF;
  RETURN v_count;
END $$;

-- Deletes one of the user's notifications; returns false when there was none.
CREATE FUNCTION matchcast_delete_notification(p_user text, p_id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM matchcast_lock_user_streams(ARRAY[p_user]);
  DELETE FROM notification WHERE id = p_id AND user_id = p_user;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM matchcast_append('user:' || p_user, 'notification', 'notification_deleted', NULL, jsonb_build_object(
    'id', p_id::text, 'unread_count', matchcast_unread_count(p_user)));
  RETURN true;
END $$;

-- Periodic cleanup: expired notifications, those older than the retention, and each user's
-- oldest beyond p_max_per_user. Silent (no stream event): clients already hide expired ones.
CREATE FUNCTION matchcast_prune_notifications(p_retention interval, p_max_per_user integer, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_expired integer;
  v_trimmed integer;
BEGIN
  DELETE FROM notification WHERE id IN (
    SELECT id FROM notification
     WHERE (expires_at IS NOT NULL AND expires_at < now()) OR created_at < now() - p_retention
     LIMIT p_limit);
  GET DIAGNOSTICS v_expired = ROW_COUNT;
  DELETE FROM notification WHERE id IN (
    SELECT id FROM (
      SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id DESC) AS rank FROM notification
       WHERE user_id IN (SELECT user_id FROM notification GROUP BY user_id HAVING count(*) > p_max_per_user)
    ) ranked WHERE rank > p_max_per_user LIMIT p_limit);
  GET DIAGNOSTICS v_trimmed = ROW_COUNT;
  RETURN v_expired + v_trimmed;
END $$;

-- Roles (003's scheme): the API serves users; the notifier turns match events into notifications.
--   matchcast_api       reads the domain tables (follow targets must exist), owns follows, reads
--                       notifications, and changes them only through the functions above.
--   matchcast_notifier  reads the outbox and follows, creates notifications through
--                       matchcast_notify_users, prunes, and keeps its cursor.
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['matchcast_api', 'matchcast_notifier'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO matchcast_api, matchcast_notifier', current_schema());
END $$;

-- The notification functions write outbox and stream_counter, which only the owner may: they run
-- as the owner (SECURITY DEFINER, pinned search_path) and check their arguments through the
-- table's constraints. Whoever may call them may append to any user's stream — only the API and
-- the notifier, which decide who the user is.
DO $$
DECLARE
  v_schema text := current_schema();
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'matchcast_notify_users(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text)',
    'matchcast_mark_read(text, bigint)', 'matchcast_mark_all_read(text)', 'matchcast_delete_notification(text, bigint)',
    'matchcast_prune_notifications(interval, integer, integer)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
-- Only for the functions above (which run as the owner).
REVOKE ALL ON FUNCTION matchcast_lock_user_streams(text[]) FROM PUBLIC;

GRANT SELECT ON league, team, match TO matchcast_api;
GRANT SELECT, INSERT, DELETE ON follow TO matchcast_api;
GRANT SELECT ON notification TO matchcast_api;
-- GET /api/notifications answers the user stream's seq read in the same snapshot as the page,
-- so a client resumes the stream from exactly there.
GRANT SELECT ON stream_counter TO matchcast_api;
GRANT EXECUTE ON FUNCTION matchcast_notify_users(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text),
  matchcast_mark_read(text, bigint), matchcast_mark_all_read(text), matchcast_delete_notification(text, bigint)
  TO matchcast_api;

GRANT SELECT ON outbox, follow, league, team, match TO matchcast_notifier;
GRANT SELECT, INSERT, UPDATE ON notifier_cursor TO matchcast_notifier;
GRANT EXECUTE ON FUNCTION matchcast_notify_users(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text),
  matchcast_prune_notifications(interval, integer, integer) TO matchcast_notifier;

-- The gateway's SSE notification stream answers `connected` with the unread count.
GRANT SELECT ON notification TO matchcast_gateway;
GRANT EXECUTE ON FUNCTION matchcast_unread_count(text) TO matchcast_gateway;
