-- Private competitions: a league may be private; only its members (users, by token subject)
-- and admins may see its league, team and match channels and its REST data.
--
-- Every membership or privacy change appends one `league_access` event on the league's own
-- stream league:<id> (NOTIFY league_access_change): every gateway sees it through the normal
-- pipeline and drops its cached decisions for that league, then re-checks open subscriptions.

ALTER TABLE league ADD COLUMN private boolean NOT NULL DEFAULT false;

CREATE TABLE league_member (
  league_id  text NOT NULL REFERENCES league (id) ON DELETE CASCADE,
  user_id    text NOT NULL,
  added_by   text NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (league_id, user_id)
);
-- "Which leagues is this user a member of" (the API's announcement filter).
CREATE INDEX league_member_user_idx ON league_member (user_id);

-- The match snapshot now marks a private league's matches (league.private = true, absent when
-- public so existing payloads stay byte-identical): routeEvent drops `all` and `live:all` for
-- them without any lookup. The flag is read at write time, so a privacy flip applies to the
-- next event.
CREATE OR REPLACE FUNCTION matchcast_match_snapshot(p_match_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_snapshot jsonb;
BEGIN
  SELECT jsonb_build_object(
    'match_id', m.id,
    'status', m.status,
    'minute', COALESCE(gc.minute, 0),
    'period', COALESCE(gc.period, 'pre_match'),
    'score', jsonb_build_object('home', COALESCE(sb.home_score, 0), 'away', COALESCE(sb.away_score, 0)),
    'home_team', jsonb_build_object('id', ht.id, 'name', ht.name),
    'away_team', jsonb_build_object('id', at.id, 'name', at.name),
    'league', jsonb_build_object('id', l.id, 'name', l.name)
              || CASE WHEN l.private THEN jsonb_build_object('private', true) ELSE '{}'::jsonb END,
    'kickoff_at', to_char(m.kickoff_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  INTO v_snapshot
  FROM match m
  JOIN team ht ON ht.id = m.home_team_id
  JOIN team at ON at.id = m.away_team_id
  JOIN league l ON l.id = m.league_id
  LEFT JOIN scoreboard sb ON sb.match_id = m.id
  LEFT JOIN gameclock gc ON gc.match_id = m.id
  WHERE m.id = p_match_id;
  RETURN v_snapshot;
END $$;

-- Notifications about a private league (its matches, teams, announcements, purchases) go to its
-- members only: 004's function with one filter at the top (CREATE OR REPLACE resets SECURITY
-- DEFINER, set again below; grants are kept).
CREATE OR REPLACE FUNCTION matchcast_notify_users(
  p_user_ids text[], p_title text, p_message text, p_type text, p_match_id text, p_team_id text,
  p_league_id text, p_data jsonb, p_priority text, p_expires_at timestamptz, p_source_key text)
RETURNS SETOF notification LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz := clock_timestamp();
  v_league text := COALESCE(p_league_id, (SELECT league_id FROM team WHERE id = p_team_id),
                            (SELECT league_id FROM match WHERE id = p_match_id));
BEGIN
  -- 008: a private league's notifications reach its members only (a follower who is not one,
  -- or no longer is, gets none). One lookup per call, which carries up to 1,000 users.
  IF v_league IS NOT NULL AND (SELECT private FROM league WHERE id = v_league) THEN
    p_user_ids := ARRAY(SELECT u FROM unnest(p_user_ids) AS u
                         WHERE EXISTS (SELECT 1 FROM league_member m WHERE m.league_id = v_league AND m.user_id = u));
  END IF;
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

-- The one visibility rule for REST reads: a public league is visible to everyone, a private one
-- to its members and admins. False for an unknown league (callers answer 404 either way).
CREATE FUNCTION matchcast_league_visible(p_league text, p_user text, p_admin boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT COALESCE((SELECT p_admin OR NOT l.private
                          OR EXISTS (SELECT 1 FROM league_member m WHERE m.league_id = l.id AND m.user_id = p_user)
                     FROM league l WHERE l.id = p_league), false)
$$;

-- The league an announcement target belongs to (a league itself, a team's, a match's); NULL for everyone.
CREATE FUNCTION matchcast_target_league(p_target text, p_target_id text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE p_target
    WHEN 'league' THEN p_target_id
    WHEN 'team' THEN (SELECT league_id FROM team WHERE id = p_target_id)
    WHEN 'match' THEN (SELECT league_id FROM match WHERE id = p_target_id)
  END
$$;

CREATE FUNCTION matchcast_league_access_event(p_league text, p_change text, p_user text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM matchcast_append('league:' || p_league, 'league_access', 'league_access', NULL,
    jsonb_build_object('league_id', p_league, 'change', p_change,
                       'private', (SELECT private FROM league WHERE id = p_league), 'user_id', p_user));
END $$;

-- Adds a member. outcome: added | existing (nothing new, no event) | no_league.
CREATE FUNCTION matchcast_add_league_member(p_league text, p_user text, p_by text, OUT outcome text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM league WHERE id = p_league FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'no_league';
    RETURN;
  END IF;
  INSERT INTO league_member (league_id, user_id, added_by) VALUES (p_league, p_user, p_by)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    outcome := 'existing';
    RETURN;
  END IF;
  PERFORM matchcast_league_access_event(p_league, 'member_added', p_user);
  outcome := 'added';
END $$;

-- Removes a member. outcome: removed | not_member | no_league.
CREATE FUNCTION matchcast_remove_league_member(p_league text, p_user text, OUT outcome text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM league WHERE id = p_league FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'no_league';
    RETURN;
  END IF;
  DELETE FROM league_member WHERE league_id = p_league AND user_id = p_user;
  IF NOT FOUND THEN
    outcome := 'not_member';
    RETURN;
  END IF;
  PERFORM matchcast_league_access_event(p_league, 'member_removed', p_user);
  outcome := 'removed';
END $$;

-- Sets the privacy flag. outcome: changed | unchanged (no event) | no_league.
CREATE FUNCTION matchcast_set_league_private(p_league text, p_private boolean, OUT outcome text)
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE league SET private = p_private WHERE id = p_league AND private IS DISTINCT FROM p_private;
  IF FOUND THEN
    PERFORM matchcast_league_access_event(p_league, 'privacy', NULL);
    outcome := 'changed';
  ELSIF EXISTS (SELECT 1 FROM league WHERE id = p_league) THEN
    outcome := 'unchanged';
  ELSE
    outcome := 'no_league';
  END IF;
END $$;

DO $$
DECLARE
  v_schema text := current_schema();
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'matchcast_add_league_member(text, text, text)', 'matchcast_remove_league_member(text, text)',
    'matchcast_set_league_private(text, boolean)',
    'matchcast_notify_users(text[], text, text, text, text, text, text, jsonb, text, timestamptz, text)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION matchcast_league_access_event(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_league_visible(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_target_league(text, text) FROM PUBLIC;

GRANT SELECT ON league_member TO matchcast_api, matchcast_gateway;
GRANT EXECUTE ON FUNCTION matchcast_league_visible(text, text, boolean), matchcast_target_league(text, text)
  TO matchcast_api, matchcast_gateway;
GRANT EXECUTE ON FUNCTION matchcast_add_league_member(text, text, text), matchcast_remove_league_member(text, text),
  matchcast_set_league_private(text, boolean) TO matchcast_api;
