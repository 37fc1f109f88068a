-- PostgreSQL has no privilege for NOTIFY: any role that can log in to the database (the
-- crawler's, the API's, an operator's reporting user, another application's) could send
-- `NOTIFY match_change, '<event>'`, and a well-formed forgery went to every subscribed client
-- (docs/security.md). Every outbox notification now ends with an HMAC-SHA256 of the payload
-- it had before (the event, or the reference to its row):
--
--   {…the event's members…,"mac":"<key id>.<base64 HMAC-SHA256 of the payload without this member>"}
--
-- computed in the owner-rights code that writes the outbox row, with a key that only the owner
-- can read. The notify-listener, the gateway's own LISTEN fallback and the notifier's wake-up
-- read the keys through matchcast_notify_keys() (EXECUTE granted to their roles only), check
-- every notification and drop what does not verify. No one else can sign: the writers' roles cause notifications only
-- through the triggers, which sign only rows they really wrote. The signature is one more JSON
-- member, which releases before this one ignore (their decoder takes the members it knows), so
-- the release before keeps working beside a migrated database through a rolling upgrade and
-- after a rollback. Core functions only (sha256 is PostgreSQL 11+, gen_random_uuid 13+).
--
-- Keys rotate with matchcast_rotate_notify_key() (docs/operations.md): the new key signs from
-- two minutes after it is made, so every verifier (they re-read the keys every 30 s) knows it
-- before the first notification it signs; the one before it stays until the next rotation.

CREATE TABLE notify_key (
  id         integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  secret     bytea NOT NULL CHECK (octet_length(secret) = 32),
  -- HMAC's two padded keys (RFC 2104: the key, zero-padded to SHA-256's 64-byte block, XOR
  -- 0x36 and XOR 0x5c), kept so that signing is two sha256() calls.
  inner_pad  bytea NOT NULL CHECK (octet_length(inner_pad) = 64),
  outer_pad  bytea NOT NULL CHECK (octet_length(outer_pad) = 64),
  signs_from timestamptz NOT NULL
);
REVOKE ALL ON notify_key FROM PUBLIC;

-- A new random key (two v4 UUIDs: 244 random bits) that signs from p_signs_from.
CREATE FUNCTION matchcast_add_notify_key(p_signs_from timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_secret bytea := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
  v_inner bytea := decode(repeat('36', 64), 'hex');
  v_outer bytea := decode(repeat('5c', 64), 'hex');
  v_id integer;
BEGIN
  FOR i IN 0..31 LOOP
    v_inner := set_byte(v_inner, i, get_byte(v_secret, i) # 54);
    v_outer := set_byte(v_outer, i, get_byte(v_secret, i) # 92);
  END LOOP;
  INSERT INTO notify_key (secret, inner_pad, outer_pad, signs_from)
  VALUES (v_secret, v_inner, v_outer, p_signs_from) RETURNING id INTO v_id;
  RETURN v_id;
END $$;
REVOKE ALL ON FUNCTION matchcast_add_notify_key(timestamptz) FROM PUBLIC;

SELECT matchcast_add_notify_key(now());

-- Rotation (owner only): a new key that signs in two minutes; keys older than the one signing
-- now are dropped (nothing they signed is still on its way by then).
CREATE FUNCTION matchcast_rotate_notify_key() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_signing integer := (SELECT max(id) FROM notify_key WHERE signs_from <= now());
BEGIN
  DELETE FROM notify_key WHERE id < v_signing;
  RETURN matchcast_add_notify_key(now() + interval '2 minutes');
END $$;
REVOKE ALL ON FUNCTION matchcast_rotate_notify_key() FROM PUBLIC;

-- What the verifiers read: every key, the one signing now and any about to.
CREATE FUNCTION matchcast_notify_keys() RETURNS TABLE (id integer, secret bytea) LANGUAGE sql STABLE AS $$
  SELECT k.id, k.secret FROM notify_key k ORDER BY k.id
$$;
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION matchcast_notify_keys() SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE ALL ON FUNCTION matchcast_notify_keys() FROM PUBLIC;
-- The notifier LISTENs too (a wake-up to read the outbox): a forged NOTIFY must not make it read.
GRANT EXECUTE ON FUNCTION matchcast_notify_keys() TO matchcast_listener, matchcast_gateway, matchcast_notifier;

-- NOTIFY of a JSON object payload with its "mac" member added last, by the newest key that
-- signs now. Runs inside the owner-rights functions that write the outbox; no one else may call it.
CREATE FUNCTION matchcast_notify(p_channel text, p_payload text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  k record;
BEGIN
  SELECT id, inner_pad, outer_pad INTO STRICT k FROM notify_key WHERE signs_from <= now() ORDER BY id DESC LIMIT 1;
  PERFORM pg_notify(p_channel, left(p_payload, -1) || ',"mac":"' || k.id || '.'
    || encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(p_payload, 'UTF8'))), 'base64') || '"}');
END $$;
REVOKE ALL ON FUNCTION matchcast_notify(text, text) FROM PUBLIC;

-- 012's function, signing its NOTIFY (the signature adds at most 64 bytes: 7,900 + 64 < 8,000).
CREATE OR REPLACE FUNCTION matchcast_write_event(p_stream text, p_seq bigint, p_source text, p_type text, p_match_id text,
                                                 p_data jsonb, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
  v_payload text;
BEGIN
  INSERT INTO outbox (stream, seq, source, type, match_id, data, created_at)
  VALUES (p_stream, p_seq, p_source, p_type, p_match_id, p_data, p_at)
  RETURNING id INTO v_id;

  v_payload := json_build_object(
    'id', v_id::text, 'stream', p_stream, 'seq', p_seq, 'type', p_type, 'match_id', p_match_id,
    'data', p_data, 'timestamp', to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text;
  IF octet_length(v_payload) > 7900 THEN
    v_payload := json_build_object('ref', true, 'id', v_id::text, 'stream', p_stream, 'seq', p_seq)::text;
  END IF;
  PERFORM matchcast_notify(p_source || '_change', v_payload);
END $$;

-- 017's function, signing its NOTIFYs.
CREATE OR REPLACE FUNCTION matchcast_write_notifications(
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
