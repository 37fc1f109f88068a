-- 020 queued an urgent announcement's fan-out for a function only this release's notifier calls
-- (matchcast_run_announcement_fanout). The notifier of the release before runs
-- matchcast_run_announcements alone, so beside a migrated database — through a rolling upgrade,
-- or for good after `helm rollback`, which keeps the schema (docs/operations.md "expand, then
-- contract") — every urgent announcement was queued and no follower was ever notified. The
-- round both releases call now works off one batch of the queue too, and says so in two more
-- columns, which the earlier release does not read (it selects published and expired by name).
-- And 020 worked the queue oldest first to the end: an urgent announcement queued behind a big
-- league's waited for every batch of it (a million followers: minutes) before its first
-- follower heard of it. A batch now sends its announcement to the back of the queue, so the
-- announcements queued take turns, a batch each.

-- 020's function, taking turns.
CREATE OR REPLACE FUNCTION matchcast_run_announcement_fanout(p_limit integer, OUT notified integer, OUT more boolean)
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

-- CREATE OR REPLACE resets owner's rights and the pinned search_path: set again, as 020 did.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION matchcast_run_announcement_fanout(integer) SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;

DROP FUNCTION matchcast_run_announcements(integer);

-- 007's function, then one batch of the fan-out queue (020).
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
