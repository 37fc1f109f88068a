-- The notifier's cleanup trims each user's notifications to NOTIFICATION_MAX_PER_USER without a
-- scan of the whole table per chunk.
--
-- matchcast_prune_notifications (004) found the users over the cap with a GROUP BY over every
-- notification, then deleted one chunk (NOTIFIER_BATCH_SIZE rows) of their oldest: one full scan,
-- and a sort of the heavy users' rows, per 1,000 rows deleted. One user 100,000 over the cap (a
-- busy season's follows, or rows made by a service) cost 100 scans per round: with 1.1 million
-- notifications in all, 0.4-0.6 s each, 40 s of a database core, again every round while any
-- excess was left; the cost grows with the table, not with the excess.
-- Now a round asks once who is over the cap, then trims each of them through their own range of
-- notification_user_idx (the newest p_max rows are skipped, a chunk of the rest deleted), and
-- deletes expired and old rows through their own indexes, chunk by chunk as before. A chunk's ids
-- are deleted as `id = ANY (ARRAY(…))`, by the primary key: as `id IN (…)` the planner may join
-- them against a sequential scan of the whole table (it did, for chunks of 500 in 40,000 rows). The 004
-- function stays as it was (a notifier of the previous release calls it during a rolling update).

-- Expired notifications and those older than the retention (silent, as before).
CREATE FUNCTION matchcast_prune_expired_notifications(p_retention interval, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
BEGIN
  DELETE FROM notification WHERE id = ANY (ARRAY(
    SELECT id FROM notification
     WHERE (expires_at IS NOT NULL AND expires_at < now()) OR created_at < now() - p_retention
     LIMIT p_limit));
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- The users with more than p_max notifications, most first (at most p_limit): one scan.
CREATE FUNCTION matchcast_notification_users_over(p_max integer, p_limit integer)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
  SELECT user_id FROM notification GROUP BY user_id HAVING count(*) > p_max ORDER BY count(*) DESC, user_id LIMIT p_limit
$$;

-- Deletes up to p_limit of one user's notifications past their newest p_max; returns how many.
CREATE FUNCTION matchcast_trim_user_notifications(p_user text, p_max integer, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_count integer;
BEGIN
  DELETE FROM notification WHERE id = ANY (ARRAY(
    SELECT id FROM notification WHERE user_id = p_user ORDER BY id DESC OFFSET p_max LIMIT p_limit));
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- As 004's prune: they run as the owner, and only the notifier may call them.
DO $$
DECLARE
  v_schema text := current_schema();
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'matchcast_prune_expired_notifications(interval, integer)',
    'matchcast_notification_users_over(integer, integer)',
    'matchcast_trim_user_notifications(text, integer, integer)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, v_schema);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO matchcast_notifier', f);
  END LOOP;
END $$;
