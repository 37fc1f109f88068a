-- A notification's idempotency key outlives its row for 24 hours from when it was first used.
--
-- The key (source_key: the API's `api:<idempotency_key>`, the notifier's `outbox:<id>`,
-- `announcement:<id>`, `purchase:<id>:<status>`) lived only on the notification row, UNIQUE
-- (user_id, source_key). Once the recipient deleted it (or the cleanup trimmed or expired it), a
-- retry of the same request created it again — a notification the user had deleted came back,
-- with a new event on their stream — and another request reusing the key was no longer told
-- 409 IDEMPOTENCY_KEY_REUSED (reproduced on the demo: POST with key del-replay-1 201 id 1,
-- DELETE 204, the same POST 201 id 2).
-- Now a row deleted within the window leaves its key behind in notification_key, with a
-- fingerprint of what the notification said; while it is there (until 24 hours after the
-- notification was created) the writer of notifications leaves that user out for that key:
-- nothing is created, no event is appended. The API compares a request with the fingerprint as
-- it compares it with a row (same content: a retry, counted in `duplicates`; other content:
-- 409). The notifier's cleanup prunes keys past the window (matchcast_prune_notification_keys).
-- The window runs from the notification's created_at, not from the deletion: a key holds for
-- 24 hours from its first use whatever happens to its row (and longer while the row exists, as
-- before), so a row deleted after 24 hours — nearly all that the cleanup deletes — leaves nothing.
-- During a rolling update the release before's API answers a retry after a deletion 200 with
-- that recipient counted in `skipped`, and another request under the key the same (it looks at
-- rows only), but creates nothing either way.

-- One definition of the window, for the trigger, the writer, the API's look-up and the pruning.
CREATE FUNCTION matchcast_notification_key_window() RETURNS interval LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT interval '24 hours'
$$;

-- What a notification says, as the API's IDEMPOTENCY_KEY_REUSED check compares it (title,
-- message, type, priority, the three ids, data as a JSON value, expires_at as a time; the values
-- as stored, so priority and data after their defaults). Each value quoted (or NULL), so no two
-- notifications have the same text; jsonb's text is canonical (keys sorted, each once) and the
-- time is microseconds since the epoch, so neither the order of keys nor the session's TimeZone,
-- DateStyle or extra_float_digits changes it. (Built with jsonb_build_array and to_char it cost
-- twice as much, and the deletion trigger computes it for every key it remembers.)
CREATE FUNCTION matchcast_notification_fingerprint(p_title text, p_message text, p_type text, p_priority text,
  p_match_id text, p_team_id text, p_league_id text, p_data jsonb, p_expires_at timestamptz)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to(concat_ws(',', quote_nullable(p_title), quote_nullable(p_message), quote_nullable(p_type),
    quote_nullable(p_priority), quote_nullable(p_match_id), quote_nullable(p_team_id), quote_nullable(p_league_id),
    quote_nullable(p_data::text), quote_nullable((extract(epoch FROM p_expires_at) * 1000000)::bigint)), 'UTF8'))
$$;

-- Keyed by source first: the writer and the API ask about one key for many users.
CREATE TABLE notification_key (
  source_key   text NOT NULL,
  user_id      text NOT NULL,
  fingerprint  bytea NOT NULL,
  -- The deleted notification's created_at: the key holds until the window has passed from it.
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (source_key, user_id)
);
CREATE INDEX notification_key_created_idx ON notification_key (created_at);

-- The keys of deleted notifications, remembered (a key used again after its window and deleted
-- again is remembered anew). Once per statement, from its deleted rows: the cleanup deletes
-- chunks of up to NOTIFIER_BATCH_SIZE rows, and a trigger per row cost about twice as much (a
-- chunk of 1,000 rows within the window: 35 ms of Postgres CPU against 20, 3 without either;
-- past the window, which a per-row trigger's WHEN skipped for free, this one's capture of the
-- deleted rows costs about 0.5 ms a chunk).
CREATE FUNCTION matchcast_remember_notification_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO notification_key (source_key, user_id, fingerprint, created_at)
  SELECT d.source_key, d.user_id,
         matchcast_notification_fingerprint(d.title, d.message, d.type, d.priority, d.match_id, d.team_id, d.league_id,
                                            d.data, d.expires_at),
         d.created_at
    FROM deleted_notification d
   WHERE d.source_key IS NOT NULL AND d.created_at > now() - matchcast_notification_key_window()
  ON CONFLICT (source_key, user_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at;
  RETURN NULL;
END $$;

CREATE TRIGGER notification_key_remembered AFTER DELETE ON notification REFERENCING OLD TABLE AS deleted_notification
  FOR EACH STATEMENT EXECUTE FUNCTION matchcast_remember_notification_keys();

-- 018's writer, leaving out the users whose deleted notification still holds the key: for them
-- nothing is created and no event appended, whoever calls it (the API, the notifier's followers
-- and announcements, a purchase's status). Held keys are looked for after the users' stream
-- locks, which matchcast_delete_notification takes too: a retry sees the key a deletion before
-- it left. (The cleanup takes no stream lock: a retry racing the cleanup's deletion of that very
-- row, uncommitted when the retry looks, may still create it again.) One probe of
-- notification_key per call while the key is held by no one — nearly always: writes cost what
-- they did, where a trigger per inserted row cost 7-12 % more Postgres CPU for 1,000 recipients
-- (docs/benchmarks.md, "Notification keys"). CREATE OR REPLACE keeps the function's grants
-- (none but the owner's).
CREATE OR REPLACE FUNCTION matchcast_write_notifications(
  p_user_ids text[], p_title text, p_message text, p_type text, p_match_id text, p_team_id text,
  p_league_id text, p_data jsonb, p_priority text, p_expires_at timestamptz, p_source_key text)
RETURNS SETOF notification LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz := clock_timestamp();
BEGIN
  PERFORM matchcast_lock_user_streams(p_user_ids);
  IF p_source_key IS NOT NULL AND EXISTS (
       SELECT 1 FROM notification_key k
        WHERE k.source_key = p_source_key AND k.created_at > now() - matchcast_notification_key_window()) THEN
    p_user_ids := ARRAY(SELECT u FROM unnest(p_user_ids) AS u
                        EXCEPT
                        SELECT k.user_id FROM notification_key k
                         WHERE k.source_key = p_source_key AND k.created_at > now() - matchcast_notification_key_window());
  END IF;
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
    SELECT count(matchcast_notify('notification_change',
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

-- The keys of the given users' deleted notifications that still hold, with their fingerprints:
-- the API's IDEMPOTENCY_KEY_REUSED check looks here as well as at the rows.
CREATE FUNCTION matchcast_held_notification_keys(p_user_ids text[], p_source_key text)
RETURNS TABLE (user_id text, fingerprint bytea) LANGUAGE sql STABLE AS $$
  SELECT k.user_id, k.fingerprint FROM notification_key k
   WHERE k.source_key = p_source_key AND k.user_id = ANY (p_user_ids)
     AND k.created_at > now() - matchcast_notification_key_window()
$$;

-- Deletes up to p_limit keys past the window; returns how many (the notifier's cleanup, chunk by
-- chunk as 024's). By ctid, from one index range: no join against a scan of the table.
CREATE FUNCTION matchcast_prune_notification_keys(p_limit integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
BEGIN
  DELETE FROM notification_key WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM notification_key WHERE created_at <= now() - matchcast_notification_key_window() LIMIT p_limit))
    AND created_at <= now() - matchcast_notification_key_window();
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- The look-up, the pruning and the deletion trigger run as the owner with a pinned search_path,
-- as 004's notification functions; only the API may look up, only the notifier prune. The window
-- and the fingerprint are pure and stay callable by anyone, as matchcast_notification_json is.
DO $$
DECLARE
  v_schema text := current_schema();
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['matchcast_remember_notification_keys()', 'matchcast_held_notification_keys(text[], text)',
                           'matchcast_prune_notification_keys(integer)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION matchcast_remember_notification_keys(),
  matchcast_held_notification_keys(text[], text), matchcast_prune_notification_keys(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION matchcast_held_notification_keys(text[], text) TO matchcast_api;
GRANT EXECUTE ON FUNCTION matchcast_prune_notification_keys(integer) TO matchcast_notifier;
