-- Announcements: what organisers tell fans (a delayed kick-off, a weather alert, an emergency),
-- to everyone, a league, a team or a match, for a window of time.
--
--   state      scheduled ──> published ──> expired      (scheduled ──> expired when deleted first)
--   streams    the target's stream gets every change, in the same transaction as the row:
--                everyone  all            (a stream of its own: routed to the `all` channel only)
--                league    league:<id>    (its own stream since 005: league:<id> only)
--                team      team:<id>      (a stream of its own, like league: team:<id> only)
--                match     match:<id>     (routed like every match event: match, both teams,
--                                          the league and all — fans of a team want to hear
--                                          that its match is delayed)
--   events     announcement (published), announcement_updated (edited while published),
--              announcement_expired (expires_at reached, or DELETE), NOTIFY announcement_change.
--   urgent     a published urgent announcement also becomes a notification for the target's
--              followers (a match's: the match, both teams and the league), once per user
--              (source_key announcement:<id>); `everyone` has no followers to ask: the banner
--              on `all` is its notice.
-- Timed publishing and expiry are the notifier leader's (matchcast_run_announcements, every second).

CREATE TABLE announcement (
  id          bigserial PRIMARY KEY,
  title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  message     text NOT NULL CHECK (char_length(message) BETWEEN 1 AND 2000),
  type        text NOT NULL CHECK (type IN ('general', 'schedule_change', 'result_update', 'weather_alert', 'emergency')),
  priority    text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  target      text NOT NULL CHECK (target IN ('everyone', 'league', 'team', 'match')),
  target_id   text CHECK (target_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  starts_at   timestamptz,
  expires_at  timestamptz,
  -- The admin's JWT `sub`.
  created_by  text NOT NULL CHECK (char_length(created_by) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  state       text NOT NULL CHECK (state IN ('scheduled', 'published', 'expired')),
  CHECK ((target = 'everyone') = (target_id IS NULL)),
  CHECK (expires_at IS NULL OR starts_at IS NULL OR expires_at > starts_at)
);
-- The public list: a target's published announcements.
CREATE INDEX announcement_target_idx ON announcement (target, target_id) WHERE state = 'published';
-- The worker's questions: which scheduled ones are due, which published ones are past expiry.
CREATE INDEX announcement_due_idx ON announcement (starts_at) WHERE state = 'scheduled';
CREATE INDEX announcement_expiry_idx ON announcement (expires_at) WHERE state = 'published' AND expires_at IS NOT NULL;

CREATE FUNCTION matchcast_announcement_json(a announcement) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', a.id::text, 'title', a.title, 'message', a.message, 'type', a.type, 'priority', a.priority,
    'target', a.target, 'target_id', a.target_id,
    'starts_at', to_char(a.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'expires_at', to_char(a.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'created_by', a.created_by, 'state', a.state,
    'created_at', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updated_at', to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

-- The stream an announcement's events go to (and GET /api/announcements answers the seq of).
CREATE FUNCTION matchcast_announcement_stream(p_target text, p_target_id text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_target WHEN 'everyone' THEN 'all' ELSE p_target || ':' || p_target_id END
$$;

-- Whether the target exists (everyone always does).
CREATE FUNCTION matchcast_announcement_target_exists(p_target text, p_target_id text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT CASE p_target
    WHEN 'everyone' THEN p_target_id IS NULL
    WHEN 'league' THEN EXISTS (SELECT FROM league WHERE id = p_target_id)
    WHEN 'team' THEN EXISTS (SELECT FROM team WHERE id = p_target_id)
    WHEN 'match' THEN EXISTS (SELECT FROM match WHERE id = p_target_id)
    ELSE false END
$$;

-- Appends one announcement event to its target's stream. A match's carries the match's team and
-- league refs, so routing takes it where the match's own events go (the match row may be gone:
-- then to match:<id> and all only).
CREATE FUNCTION matchcast_announcement_event(a announcement, p_type text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_data jsonb := matchcast_announcement_json(a);
  v_snapshot jsonb;
BEGIN
  IF a.target = 'match' THEN
    v_snapshot := matchcast_match_snapshot(a.target_id);
    IF v_snapshot IS NOT NULL THEN
      v_data := v_data || jsonb_build_object('home_team', v_snapshot->'home_team', 'away_team', v_snapshot->'away_team',
                                             'league', v_snapshot->'league');
    END IF;
  END IF;
  PERFORM matchcast_append(matchcast_announcement_stream(a.target, a.target_id), 'announcement', p_type,
    CASE WHEN a.target = 'match' THEN a.target_id END, v_data);
END $$;

-- An urgent published announcement as a notification for its target's followers, each once
-- (source_key announcement:<id>: a later edit or a retried run adds nobody twice).
CREATE FUNCTION matchcast_announcement_notify(a announcement) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_users text[];
  v_home text;
  v_away text;
  v_league text;
BEGIN
  IF a.priority <> 'urgent' OR a.state <> 'published' OR a.target = 'everyone' THEN
    RETURN;
  END IF;
  IF a.target = 'match' THEN
    SELECT m.home_team_id, m.away_team_id, m.league_id INTO v_home, v_away, v_league FROM match m WHERE m.id = a.target_id;
    SELECT array_agg(DISTINCT f.user_id) INTO v_users FROM follow f
     WHERE (f.kind = 'match' AND f.target_id = a.target_id)
        OR (f.kind = 'team' AND f.target_id IN (v_home, v_away))
        OR (f.kind = 'league' AND f.target_id = v_league);
  ELSE
    SELECT array_agg(f.user_id) INTO v_users FROM follow f WHERE f.kind = a.target AND f.target_id = a.target_id;
  END IF;
  IF v_users IS NULL THEN
    RETURN;
  END IF;
  PERFORM matchcast_notify_users(v_users, left(a.title, 200), a.message, 'announcement',
    CASE WHEN a.target = 'match' THEN a.target_id END,
    CASE WHEN a.target = 'team' THEN a.target_id END,
    CASE WHEN a.target = 'league' THEN a.target_id WHEN a.target = 'match' THEN v_league END,
    jsonb_build_object('announcement_id', a.id::text, 'announcement_type', a.type, 'target', a.target, 'target_id', a.target_id),
    'urgent', a.expires_at, 'announcement:' || a.id);
END $$;

-- Publishes a scheduled announcement: state, `announcement` event, urgent notifications.
CREATE FUNCTION matchcast_publish_announcement(a announcement) RETURNS announcement LANGUAGE plpgsql AS $$
DECLARE
  v_row announcement;
BEGIN
  UPDATE announcement SET state = 'published', updated_at = clock_timestamp() WHERE id = a.id RETURNING * INTO v_row;
  PERFORM matchcast_announcement_event(v_row, 'announcement');
  PERFORM matchcast_announcement_notify(v_row);
  RETURN v_row;
END $$;

-- Expires an announcement; the `announcement_expired` event only when it had been published
-- (one never shown needs no retraction). expires_at becomes now when it was later or unset.
CREATE FUNCTION matchcast_expire_announcement_row(a announcement) RETURNS announcement LANGUAGE plpgsql AS $$
DECLARE
  v_row announcement;
  v_now timestamptz := clock_timestamp();
BEGIN
  UPDATE announcement
     SET state = 'expired', updated_at = v_now,
         expires_at = CASE WHEN expires_at IS NULL OR expires_at > v_now THEN v_now ELSE expires_at END,
         -- a scheduled one deleted before its start: the window stays valid (start <= expiry)
         starts_at = CASE WHEN starts_at > v_now THEN NULL ELSE starts_at END
   WHERE id = a.id RETURNING * INTO v_row;
  IF a.state = 'published' THEN
    PERFORM matchcast_announcement_event(v_row, 'announcement_expired');
  END IF;
  RETURN v_row;
END $$;

-- Creates an announcement. outcome: created | no_target (the league, team or match does not exist).
-- Published at once unless starts_at is in the future (then the worker publishes it).
CREATE FUNCTION matchcast_create_announcement(p_title text, p_message text, p_type text, p_priority text,
  p_target text, p_target_id text, p_starts_at timestamptz, p_expires_at timestamptz, p_created_by text,
  OUT outcome text, OUT announcement jsonb) LANGUAGE plpgsql AS $$
DECLARE
  v_row announcement;
BEGIN
  IF NOT matchcast_announcement_target_exists(p_target, p_target_id) THEN
    outcome := 'no_target';
    RETURN;
  END IF;
  INSERT INTO announcement (title, message, type, priority, target, target_id, starts_at, expires_at, created_by, state)
  VALUES (p_title, p_message, p_type, COALESCE(p_priority, 'normal'), p_target, p_target_id, p_starts_at, p_expires_at,
          p_created_by, 'scheduled')
  RETURNING * INTO v_row;
  IF v_row.starts_at IS NULL OR v_row.starts_at <= clock_timestamp() THEN
    v_row := matchcast_publish_announcement(v_row);
  END IF;
  outcome := 'created';
  announcement := matchcast_announcement_json(v_row);
END $$;

-- Edits an announcement with the fields present in p_patch (title, message, type, priority,
-- starts_at, expires_at; JSON null clears starts_at / expires_at). outcome:
--   updated     changed (announcement_updated on its stream when published; published now when
--               a scheduled one's start moved to the past; expired when its expiry did)
--   unchanged   nothing differs: nothing written
--   started     starts_at given for an announcement already published
--   bad_window  expires_at would not be after starts_at
--   expired     an expired announcement is not edited
--   not_found
CREATE FUNCTION matchcast_update_announcement(p_id bigint, p_patch jsonb, OUT outcome text, OUT announcement jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_old announcement;
  v_new announcement;
  v_now timestamptz := clock_timestamp();
BEGIN
  SELECT * INTO v_old FROM announcement a WHERE a.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'not_found';
    RETURN;
  END IF;
  announcement := matchcast_announcement_json(v_old);
  IF v_old.state = 'expired' THEN
    outcome := 'expired';
    RETURN;
  END IF;
  IF p_patch ? 'starts_at' AND v_old.state = 'published'
     AND (p_patch->>'starts_at')::timestamptz IS DISTINCT FROM v_old.starts_at THEN
    outcome := 'started';
    RETURN;
  END IF;
  v_new := v_old;
  IF p_patch ? 'title' THEN v_new.title := p_patch->>'title'; END IF;
  IF p_patch ? 'message' THEN v_new.message := p_patch->>'message'; END IF;
  IF p_patch ? 'type' THEN v_new.type := p_patch->>'type'; END IF;
  IF p_patch ? 'priority' THEN v_new.priority := p_patch->>'priority'; END IF;
  IF p_patch ? 'starts_at' THEN v_new.starts_at := (p_patch->>'starts_at')::timestamptz; END IF;
  IF p_patch ? 'expires_at' THEN v_new.expires_at := (p_patch->>'expires_at')::timestamptz; END IF;
  IF v_new.expires_at IS NOT NULL AND v_new.starts_at IS NOT NULL AND v_new.expires_at <= v_new.starts_at THEN
    outcome := 'bad_window';
    RETURN;
  END IF;
  IF (v_new.title, v_new.message, v_new.type, v_new.priority, v_new.starts_at, v_new.expires_at)
     IS NOT DISTINCT FROM (v_old.title, v_old.message, v_old.type, v_old.priority, v_old.starts_at, v_old.expires_at) THEN
    outcome := 'unchanged';
    RETURN;
  END IF;
  UPDATE announcement a
     SET title = v_new.title, message = v_new.message, type = v_new.type, priority = v_new.priority,
         starts_at = v_new.starts_at, expires_at = v_new.expires_at, updated_at = v_now
   WHERE a.id = p_id RETURNING * INTO v_new;
  IF v_new.expires_at IS NOT NULL AND v_new.expires_at <= v_now THEN
    v_new := matchcast_expire_announcement_row(v_new);
  ELSIF v_new.state = 'scheduled' THEN
    IF v_new.starts_at IS NULL OR v_new.starts_at <= v_now THEN
      v_new := matchcast_publish_announcement(v_new);
    END IF;
  ELSE
    PERFORM matchcast_announcement_event(v_new, 'announcement_updated');
    -- Raised to urgent: its followers hear of it now (once: the source key).
    PERFORM matchcast_announcement_notify(v_new);
  END IF;
  outcome := 'updated';
  announcement := matchcast_announcement_json(v_new);
END $$;

-- DELETE /api/announcements/{id}: expires it now. outcome: expired | already_expired | not_found.
CREATE FUNCTION matchcast_expire_announcement(p_id bigint, OUT outcome text, OUT announcement jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_row announcement;
BEGIN
  SELECT * INTO v_row FROM announcement a WHERE a.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'not_found';
    RETURN;
  END IF;
  IF v_row.state = 'expired' THEN
    outcome := 'already_expired';
  ELSE
    v_row := matchcast_expire_announcement_row(v_row);
    outcome := 'expired';
  END IF;
  announcement := matchcast_announcement_json(v_row);
END $$;

-- The notifier leader's round: publishes the scheduled announcements whose start has come and
-- expires the published ones whose expiry has, up to p_limit of each, oldest first. Idempotent
-- (state moves once; SKIP LOCKED leaves rows an API edit holds to the next round). A scheduled
-- announcement whose whole window passed while no worker ran (a long outage) is expired
-- without events: it was never shown, so there is nothing to retract.
CREATE FUNCTION matchcast_run_announcements(p_limit integer, OUT published integer, OUT expired integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_row announcement;
  v_now timestamptz := clock_timestamp();
BEGIN
  published := 0;
  expired := 0;
  FOR v_row IN SELECT * FROM announcement a WHERE a.state = 'scheduled' AND a.starts_at <= v_now
                ORDER BY a.starts_at, a.id LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
    IF v_row.expires_at IS NOT NULL AND v_row.expires_at <= v_now THEN
      PERFORM matchcast_expire_announcement_row(v_row);
    ELSE
      PERFORM matchcast_publish_announcement(v_row);
      published := published + 1;
    END IF;
  END LOOP;
  FOR v_row IN SELECT * FROM announcement a WHERE a.state = 'published' AND a.expires_at <= v_now
                ORDER BY a.expires_at, a.id LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
    PERFORM matchcast_expire_announcement_row(v_row);
    expired := expired + 1;
  END LOOP;
END $$;

-- The writers run as the owner (they append to outbox and notify users); the API and the
-- notifier call only the entry points.
DO $$
DECLARE
  v_schema text := current_schema();
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'matchcast_create_announcement(text, text, text, text, text, text, timestamptz, timestamptz, text)',
    'matchcast_update_announcement(bigint, jsonb)', 'matchcast_expire_announcement(bigint)',
    'matchcast_run_announcements(integer)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION matchcast_announcement_event(announcement, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_announcement_notify(announcement) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_publish_announcement(announcement) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_expire_announcement_row(announcement) FROM PUBLIC;

GRANT SELECT ON announcement TO matchcast_api;
GRANT EXECUTE ON FUNCTION
  matchcast_create_announcement(text, text, text, text, text, text, timestamptz, timestamptz, text),
  matchcast_update_announcement(bigint, jsonb), matchcast_expire_announcement(bigint)
  TO matchcast_api;
GRANT EXECUTE ON FUNCTION matchcast_run_announcements(integer) TO matchcast_notifier;
