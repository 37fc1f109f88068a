-- matchcast login users: one per service, each a member of its NOLOGIN group role (the group
-- roles get their privileges in migration 003_roles.sql). Idempotent: creates what is missing
-- and (re)sets every password, so running it again after changing a password rotates it.
-- Run it as a role that may create roles (the in-chart PostgreSQL's superuser; on a managed
-- service its admin user), before or after the migrations:
--
--   psql -X -v ON_ERROR_STOP=1 \
--     -v gateway_password="$GATEWAY_PASSWORD" -v listener_password="$LISTENER_PASSWORD" \
--     -v crawler_password="$CRAWLER_PASSWORD" -v api_password="$API_PASSWORD" \
--     -v notifier_password="$NOTIFIER_PASSWORD" -f db-users.sql "$ADMIN_DATABASE_URL"
--
-- The passwords never appear in a statement's text the server could log: each ALTER ROLE is
-- built by psql's \gexec from a variable, and statement logging is turned off for this
-- session where the role is allowed to (superuser).
\set QUIET on
SELECT set_config('log_statement', 'none', false) WHERE (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);

-- Refuse an empty or missing password (ALTER ROLE … PASSWORD '' would leave the user unable to log in).
SELECT format('DO $fail$ BEGIN RAISE EXCEPTION %L; END $fail$', name || ' must be set and not empty')
  FROM (VALUES ('gateway_password', :'gateway_password'), ('listener_password', :'listener_password'),
               ('crawler_password', :'crawler_password'), ('api_password', :'api_password'),
               ('notifier_password', :'notifier_password')) AS given (name, value)
 WHERE value = '' \gexec

-- The group roles (003_roles.sql and 004_users.sql create them too; whichever runs first wins).
SELECT format('CREATE ROLE %I NOLOGIN', role)
  FROM unnest(ARRAY['matchcast_gateway', 'matchcast_listener', 'matchcast_crawler', 'matchcast_api',
                    'matchcast_notifier']) AS role
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role) \gexec

SELECT format('CREATE ROLE %I LOGIN', login)
  FROM unnest(ARRAY['matchcast_gateway_login', 'matchcast_listener_login', 'matchcast_crawler_login',
                    'matchcast_api_login', 'matchcast_notifier_login']) AS login
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = login) \gexec

-- LOGIN only, nothing else: no CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS; a few
-- connections each is all a service needs, but the limit is left to the operator.
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', login, password)
  FROM (VALUES ('matchcast_gateway_login', :'gateway_password'),
               ('matchcast_listener_login', :'listener_password'),
               ('matchcast_crawler_login', :'crawler_password'),
               ('matchcast_api_login', :'api_password'),
               ('matchcast_notifier_login', :'notifier_password')) AS users (login, password) \gexec

GRANT matchcast_gateway TO matchcast_gateway_login;
GRANT matchcast_listener TO matchcast_listener_login;
GRANT matchcast_crawler TO matchcast_crawler_login;
GRANT matchcast_api TO matchcast_api_login;
GRANT matchcast_notifier TO matchcast_notifier_login;
