-- An urgent announcement notified its target's followers inside the transaction that published
-- it (007): every follower's notification, outbox row and NOTIFY in the API's request, under its
-- 5 s statement timeout and holding every follower's stream lock meanwhile. 5,000 followers of a
-- league took 2.4 s; 20,000 took longer than the timeout, so POST /api/announcements answered 503
-- UNAVAILABLE and rolled back, on every retry: an emergency announcement to a popular league, or
-- a published one raised to urgent, could not be made at all.
-- Publishing now only queues the fan-out (announcement_fanout, in the same transaction); the
-- notifier's leader notifies the followers from there in batches (matchcast_run_announcement_fanout,
-- by user id, one transaction per batch, as it does for match events), within about
-- ANNOUNCEMENT_INTERVAL_MS. The batches run inside matchcast_run_announcements, the round the
-- release before calls too (two more columns, which it does not select): beside a migrated
-- database — a rolling upgrade, or for good after `helm rollback`, which keeps the schema — its
-- notifier works the queue as well. Queued announcements take turns, a batch each: one queued
-- behind a big league's (a million followers: minutes) does not wait for all of it.
-- Unchanged: who is notified (the target's followers; a match's: the match, both teams and the
-- league; a private league's members only), once each (source key announcement:<id>), with the
-- same notification.

CREATE TABLE announcement_fanout (
  announcement_id  bigint PRIMARY KEY REFERENCES announcement (id) ON DELETE CASCADE,
  -- The followers up to this user id (in user id order) have been notified.
  after_user       text NOT NULL DEFAULT '',
  queued_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- 007's function, queueing instead of notifying. An announcement already queued keeps its place
-- (an edit while its followers are being notified does not start them over).
CREATE OR REPLACE FUNCTION matchcast_announcement_notify(a announcement) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF a.priority <> 'urgent' OR a.state <> 'published' OR a.target = 'everyone' THEN
    RETURN;
  END IF;
  INSERT INTO announcement_fanout (announcement_id) VALUES (a.id) ON CONFLICT (announcement_id) DO NOTHING;
END $$;
REVOKE ALL ON FUNCTION matchcast_announcement_notify(announcement) FROM PUBLIC;

-- Notifies the next p_limit followers of the announcement longest in the queue, in user id order,
-- and moves its place on and it to the back of the queue (or ends it: the last batch, or the
-- announcement is no longer published and urgent). notified: notifications created (a follower
-- who has it already is not counted); more: whether fan-out work is left (call again at once).
CREATE FUNCTION matchcast_run_announcement_fanout(p_limit integer, OUT notified integer, OUT more boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_queued announcement_fanout;
  v_a announcement;
  v_home text;
  v_away text;
  v_league text;
  v_users text[] := '{}';
  v_limit integer := GREATEST(p_limit, 1);
BEGIN
  notified := 0;
  SELECT * INTO v_queued FROM announcement_fanout q ORDER BY q.queued_at, q.announcement_id LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    more := false;
    RETURN;
  END IF;
  SELECT * INTO v_a FROM announcement a WHERE a.id = v_queued.announcement_id;
  IF v_a.priority = 'urgent' AND v_a.state = 'published' THEN
    IF v_a.target = 'match' THEN
      SELECT m.home_team_id, m.away_team_id, m.league_id INTO v_home, v_away, v_league FROM match m WHERE m.id = v_a.target_id;
      -- Each branch a bounded range scan of follow_target_idx: the first v_limit distinct users
      -- of the union are among the first v_limit of each.
      v_users := ARRAY(SELECT DISTINCT f.user_id FROM (
          (SELECT user_id FROM follow WHERE kind = 'match' AND target_id = v_a.target_id AND user_id > v_queued.after_user ORDER BY user_id LIMIT v_limit)
          UNION ALL
          (SELECT user_id FROM follow WHERE kind = 'team' AND target_id = v_home AND user_id > v_queued.after_user ORDER BY user_id LIMIT v_limit)
          UNION ALL
          (SELECT user_id FROM follow WHERE kind = 'team' AND target_id = v_away AND user_id > v_queued.after_user ORDER BY user_id LIMIT v_limit)
          UNION ALL
          (SELECT user_id FROM follow WHERE kind = 'league' AND target_id = v_league AND user_id > v_queued.after_user ORDER BY user_id LIMIT v_limit)
        ) f ORDER BY f.user_id LIMIT v_limit);
    ELSE
      v_users := ARRAY(SELECT f.user_id FROM follow f WHERE f.kind = v_a.target AND f.target_id = v_a.target_id
                          AND f.user_id > v_queued.after_user ORDER BY f.user_id LIMIT v_limit);
    END IF;
  END IF;
  IF cardinality(v_users) > 0 THEN
    SELECT count(*)::integer INTO notified FROM matchcast_notify_users(v_users, left(v_a.title, 200), v_a.message, 'announcement',
      CASE WHEN v_a.target = 'match' THEN v_a.target_id END,
      CASE WHEN v_a.target = 'team' THEN v_a.target_id END,
      CASE WHEN v_a.target = 'league' THEN v_a.target_id WHEN v_a.target = 'match' THEN v_league END,
      jsonb_build_object('announcement_id', v_a.id::text, 'announcement_type', v_a.type, 'target', v_a.target, 'target_id', v_a.target_id),
      'urgent', v_a.expires_at, 'announcement:' || v_a.id);
  END IF;
  IF cardinality(v_users) = v_limit THEN
    -- To the back of the queue: the next batch is the next announcement's.
    UPDATE announcement_fanout SET after_user = v_users[v_limit], queued_at = clock_timestamp() WHERE announcement_id = v_queued.announcement_id;
    more := true;
  ELSE
    DELETE FROM announcement_fanout WHERE announcement_id = v_queued.announcement_id;
    more := EXISTS (SELECT 1 FROM announcement_fanout);
  END IF;
END $$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION matchcast_run_announcement_fanout(integer) SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE ALL ON FUNCTION matchcast_run_announcement_fanout(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION matchcast_run_announcement_fanout(integer) TO matchcast_notifier;

DROP FUNCTION matchcast_run_announcements(integer);

-- 007's function, then one batch of the fan-out queue.
CREATE FUNCTION matchcast_run_announcements(p_limit integer, OUT published integer, OUT expired integer,
  OUT notified integer, OUT more boolean)
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
  SELECT f.notified, f.more INTO notified, more FROM matchcast_run_announcement_fanout(p_limit) f;
END $$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION matchcast_run_announcements(integer) SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE ALL ON FUNCTION matchcast_run_announcements(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION matchcast_run_announcements(integer) TO matchcast_notifier;
