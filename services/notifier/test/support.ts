import pg from 'pg';
import { inTransaction, migrate } from '@matchcast/db';
import { createLogger, EnvReader, type Logger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import { loadConfig, type Config } from '../src/config';

export { PostgresServer, waitFor };

/** Test logs are silent unless LOG_LEVEL says otherwise. */
export const testLogger = (): Logger => createLogger('notifier-test', process.env.LOG_LEVEL ?? 'silent');

/** The login user the notifier runs as: a member of matchcast_notifier and nothing else. */
export const NOTIFIER_USER = { name: 'matchcast_notifier_login', password: 'nt-Pass_4' };

export function urlAs(server: PostgresServer, user: string, password: string): string {
  const url = new URL(server.url);
  url.username = user;
  url.password = password;
  return url.toString();
}

export const notifierUrl = (server: PostgresServer) => urlAs(server, NOTIFIER_USER.name, NOTIFIER_USER.password);

/** A Postgres with password authentication, migrated, with the notifier's login user and a small world. */
export async function startDatabase(): Promise<{ server: PostgresServer; admin: pg.Pool }> {
  const server = await new PostgresServer({ passwordAuthentication: true }).start();
  const admin = new pg.Pool({ connectionString: server.url, max: 6 });
  const client = await admin.connect();
  try {
    await migrate(client);
  } finally {
    client.release();
  }
  await admin.query(
    `CREATE ROLE ${NOTIFIER_USER.name} LOGIN PASSWORD '${NOTIFIER_USER.password}' IN ROLE matchcast_notifier`,
  );
  await admin.query(`INSERT INTO league (id, name) VALUES ('epl', 'Premier League'), ('liga', 'La Liga')`);
  await admin.query(
    `INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'),
       ('liv', 'epl', 'Liverpool'), ('eve', 'epl', 'Everton'), ('rma', 'liga', 'Real Madrid'), ('fcb', 'liga', 'Barcelona')`,
  );
  return { server, admin };
}

let matchCounter = 0;

/** A scheduled match with a scoreboard; returns its id. */
export async function createMatch(admin: pg.Pool, home = 'ars', away = 'che', league = 'epl'): Promise<string> {
  matchCounter += 1;
  const id = `m${matchCounter}-${Date.now().toString(36)}`;
  await admin.query(
    `INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ($1, $2, $3, $4, '2026-11-30T15:00:00Z')`,
    [id, league, home, away],
  );
  await admin.query(`INSERT INTO scoreboard (match_id) VALUES ($1)`, [id]);
  return id;
}

/** A goal as the crawler writes it: the score first, then the event (one transaction). */
export async function scoreGoal(
  db: pg.Pool | pg.PoolClient | pg.Client,
  matchId: string,
  team: 'home' | 'away',
  minute: number,
  player = 'Saka',
  type = 'goal',
): Promise<void> {
  if (db instanceof pg.Pool) return inTransaction(db, (client) => scoreGoal(client, matchId, team, minute, player, type));
  await db.query(
    `UPDATE scoreboard SET home_score = home_score + $2, away_score = away_score + $3, updated_at = now() WHERE match_id = $1`,
    [matchId, team === 'home' ? 1 : 0, team === 'away' ? 1 : 0],
  );
  await db.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ($1, $2, $3, $4, $5)`, [
    matchId,
    minute,
    type,
    team,
    player,
  ]);
}

export async function setStatus(admin: pg.Pool, matchId: string, status: string): Promise<void> {
  await admin.query(`UPDATE match SET status = $2, updated_at = now() WHERE id = $1`, [matchId, status]);
}

/** `count` users (prefix-00000 …) following kind/target, inserted in one statement. */
export async function addFollowers(admin: pg.Pool, prefix: string, count: number, kind: string, target: string): Promise<void> {
  await admin.query(
    `INSERT INTO follow (user_id, kind, target_id)
     SELECT $1 || '-' || lpad(i::text, 7, '0'), $2, $3 FROM generate_series(1, $4::int) AS i ON CONFLICT DO NOTHING`,
    [prefix, kind, target, count],
  );
}

export interface NotificationRow {
  id: string;
  user_id: string;
  title: string;
  message: string;
  type: string;
  match_id: string | null;
  team_id: string | null;
  league_id: string | null;
  data: Record<string, unknown>;
  priority: string;
  source_key: string;
  expires_at: Date | null;
}

/** The match's notifications (of users whose id starts with `userPrefix`), by user then id. */
export async function notificationsFor(admin: pg.Pool, matchId: string, userPrefix = ''): Promise<NotificationRow[]> {
  const { rows } = await admin.query<NotificationRow>(
    `SELECT id::text, user_id, title, message, type, match_id, team_id, league_id, data, priority, source_key, expires_at
       FROM notification WHERE match_id = $1 AND starts_with(user_id, $2) ORDER BY user_id, id`,
    [matchId, userPrefix],
  );
  return rows;
}

/** Per user: how many notification rows and how many `notification` stream events, and whether seqs are 1..n. */
export async function userStreamCheck(admin: pg.Pool, userPrefix: string) {
  const { rows } = await admin.query<{ users: number; bad_streams: number; events: number }>(
    `SELECT count(*)::int AS users,
            count(*) FILTER (WHERE max_seq <> n OR min_seq <> 1)::int AS bad_streams,
            COALESCE(sum(n), 0)::int AS events
       FROM (SELECT stream, count(*) AS n, min(seq) AS min_seq, max(seq) AS max_seq
               FROM outbox WHERE stream LIKE 'user:' || $1 || '%' GROUP BY stream) s`,
    [userPrefix],
  );
  return rows[0] as { users: number; bad_streams: number; events: number };
}

export function testConfig(server: PostgresServer, extra: Record<string, string> = {}): Config {
  return loadConfig(new EnvReader(notifierEnv(server, extra)));
}

export function notifierEnv(server: PostgresServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: notifierUrl(server),
    OPS_PORT: '0',
    NOTIFIER_POLL_INTERVAL_MS: '50',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...extra,
  };
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
