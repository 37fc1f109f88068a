import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { mintToken } from '@matchcast/auth';
import { migrate } from '@matchcast/db';
import { createLogger, EnvReader } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startApi, type RunningApi } from '../src/api';

export { PostgresServer };

export const SECRET = 'an-api-test-secret-that-is-32-bytes-or-more';
export const API_LOGIN = { user: 'matchcast_api_login', password: 'api-Pass_1' };

/**
 * A throwaway Postgres with password authentication, migrated, with a login user that is a
 * member of matchcast_api (as the chart's db-users step makes it): the API runs as that user,
 * so a missing grant fails the tests. Seeds one league, two teams and a match between them.
 */
export async function startDatabase(): Promise<{ server: PostgresServer; admin: pg.Pool; apiUrl: string }> {
  const server = await new PostgresServer({ passwordAuthentication: true }).start();
  const admin = new pg.Pool({ connectionString: server.url, max: 3 });
  admin.on('error', () => undefined); // idle clients of a database a test stops on purpose
  const client = await admin.connect();
  try {
    await migrate(client);
  } finally {
    client.release();
  }
  await admin.query(`CREATE ROLE ${API_LOGIN.user} LOGIN PASSWORD '${API_LOGIN.password}' IN ROLE matchcast_api`);
  await admin.query(`INSERT INTO league (id, name) VALUES ('epl', 'Premier League')`);
  await admin.query(`INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea')`);
  await admin.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now())`);
  const url = new URL(server.url);
  url.username = API_LOGIN.user;
  url.password = API_LOGIN.password;
  return { server, admin, apiUrl: url.toString() };
}

export function apiEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return { DATABASE_URL: databaseUrl, AUTH_JWT_SECRET: SECRET, HOST: '127.0.0.1', PORT: '0', OPS_PORT: '0', LOG_LEVEL: 'silent', ...extra };
}

export async function startTestApi(databaseUrl: string, extra: Record<string, string> = {}): Promise<RunningApi & { url: string; opsUrl: string }> {
  const api = await startApi(loadConfig(new EnvReader(apiEnv(databaseUrl, extra))), createLogger('api', 'silent'));
  return Object.assign(api, { url: `http://127.0.0.1:${api.port}`, opsUrl: `http://127.0.0.1:${api.ops.port}` });
}

export function token(user: string, roles: string[] = [], ttlSeconds = 600): Promise<string> {
  return mintToken(SECRET, { subject: user, roles, ttlSeconds });
}

/** A JWT put together by hand, for claims a library refuses to sign (an expired exp, an odd sub). */
export function handMadeToken(claims: Record<string, unknown>, secret = SECRET): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** One request; `json` is sent as application/json, `raw` as given (with its own content type). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined = options.raw;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(base + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Writes raw bytes to the port and returns whatever comes back until the server closes. */
export function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer));
    socket.write(request);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}

/** The events on a user's stream, oldest first. */
export async function userStream(admin: pg.Pool, user: string): Promise<Array<{ seq: number; type: string; data: any }>> {
  const { rows } = await admin.query(`SELECT seq::int, type, data FROM outbox WHERE stream = $1 ORDER BY seq`, [`user:${user}`]);
  return rows;
}
