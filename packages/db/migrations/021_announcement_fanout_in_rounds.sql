-- 020 queued an urgent announcement's fan-out for a function only this release's notifier calls
-- (matchcast_run_announcement_fanout). The notifier of the release before runs
-- matchcast_run_announcements alone, so beside a migrated database — through a rolling upgrade,
-- or for good after `helm rollback`, which keeps the schema (docs/operations.md "expand, then
-- contract") — every urgent announcement was queued and no follower was ever notified. The
-- round both releases call now works off one batch of the queue too, and says so in two more
-- columns, which the earlier release does not read (it selects published and expired by name).

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
