-- Least-privilege group roles, one per service. They are NOLOGIN: the deployment creates one
-- login user per service (with a password from its Secret) and makes it a member of its group
-- (charts/matchcast/files/db-users.sql; docs/deploy.md "Database roles"). The migration user
-- stays the owner of every table and function (it runs 001..NNN) and is the only one that
-- may change the schema.
--
--   matchcast_crawler   writes the domain tables (SELECT/INSERT/UPDATE, no DELETE). It has no
--                       privilege on outbox or stream_counter: the trigger writes those as the
--                       owner (SECURITY DEFINER, below).
--   matchcast_listener  nothing beyond what every role has: LISTEN and the advisory-lock
--                       functions need no grant in PostgreSQL. It reads and writes no table.
--   matchcast_gateway   reads the domain tables, outbox and stream_counter (snapshots,
--                       catch-up, resume), calls matchcast_match_snapshot, and DELETEs from
--                       outbox (pruneOutbox: rows outside the resume window). No other write.
--
-- Roles are cluster-wide: creating them needs CREATEROLE. Where the migration user may not
-- create roles (some managed services), an administrator creates the three NOLOGIN roles first;
-- this migration then only grants.
-- Later migrations that add a table or function grant on it explicitly (there are no default
-- privileges on purpose: a new table is private until a migration says who may use it).

DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['matchcast_crawler', 'matchcast_listener', 'matchcast_gateway'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END $$;

DO $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO matchcast_crawler, matchcast_listener, matchcast_gateway', current_schema());
  -- PostgreSQL < 15 lets every role create objects in "public"; 15+ no longer does. Take the
  -- privilege away where this migration may (it owns the schema, or the database in 15+).
  IF current_schema() = 'public'
     AND EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public' AND pg_has_role(nspowner, 'USAGE')) THEN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  END IF;
END $$;

-- Domain tables: the crawler is their only writer; the gateway reads them for snapshots.
GRANT SELECT, INSERT, UPDATE ON league, team, match, matchdata, scoreboard, gameclock, playclock,
  football_event, player_match TO matchcast_crawler;
GRANT USAGE ON SEQUENCE football_event_id_seq TO matchcast_crawler;
GRANT SELECT ON league, team, match, matchdata, scoreboard, gameclock, playclock,
  football_event, player_match TO matchcast_gateway;

-- Outbox: read by the gateway (catch-up, resume, /api/matches) and pruned by it.
GRANT SELECT, DELETE ON outbox TO matchcast_gateway;
GRANT SELECT ON stream_counter TO matchcast_gateway;

-- Triggers run with the privileges of the role whose write fired them, so with plain invoker
-- rights the crawler would need INSERT on outbox and INSERT/UPDATE on stream_counter (or
-- EXECUTE on matchcast_append): then a leaked crawler password could append any event to any
-- stream (user:…, announcements:…) and push a stream's counter ahead, which every client
-- would see as a gap. Instead the trigger function runs as its owner (SECURITY DEFINER): the
-- crawler can only cause events that follow from rows it really wrote, on their match:<id>
-- stream, with contiguous seqs. A trigger function cannot be called directly, and
-- matchcast_append is no longer callable by anyone but the owner.
-- search_path is pinned (the schema the functions live in, pg_temp last) so that no caller's
-- temporary table can stand in for a table the owner's code reads or writes.
DO $$
DECLARE v_schema text;
BEGIN
  SELECT n.nspname INTO STRICT v_schema
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.oid = 'matchcast_emit()'::regprocedure;
  EXECUTE format('ALTER FUNCTION matchcast_emit() SECURITY DEFINER SET search_path = %I, pg_temp', v_schema);
END $$;
REVOKE ALL ON FUNCTION matchcast_emit() FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_append(text, text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION matchcast_match_snapshot(text) FROM PUBLIC;
-- Invoker rights: the gateway reads the six tables it joins with its own SELECT grants.
GRANT EXECUTE ON FUNCTION matchcast_match_snapshot(text) TO matchcast_gateway;
