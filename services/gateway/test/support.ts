import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { migrate } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import { SignJWT } from 'jose';
import pg from 'pg';
import WebSocket from 'ws';

/** Collects every message a WebSocket client receives, and how it closed. */
export class TestClient {
  readonly messages: any[] = [];
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(url: string, options?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data) => this.messages.push(JSON.parse(data.toString())));
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }
  async next(predicate: (m: any) => boolean, timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.messages.find(predicate);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('timed out; got ' + JSON.stringify(this.messages.slice(-5)));
  }
}

/** The HTTP status (and body) a WebSocket upgrade is refused with. */
export function refusal(url: string, options?: WebSocket.ClientOptions): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
  });
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

export const TEST_SECRET = 'a-test-secret-that-is-long-enough-32+';

export function token(sub: string, ttlSeconds = 60, extra: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ sub, ...extra })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(TEST_SECRET));
}

/** A JWT put together by hand, for claims a library refuses to sign (e.g. a string exp). */
export function handMadeToken(claims: Record<string, unknown>, secret = TEST_SECRET): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** One connection attempt: 101 when the upgrade is accepted (then closed), else the HTTP status. */
export function attempt(url: string, options?: WebSocket.ClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('error', () => resolve(0));
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
  });
}

/** One metric series' value from a /metrics page (0 when absent); `label` (a substring such as `source="memory"`) picks the series. */
export async function metricValue(base: string, name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => (l.startsWith(name + ' ') || l.startsWith(name + '{')) && l.includes(label));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/**
 * A migrated database with match m1 (league l, teams a and b, its scoreboard row), and a login
 * with the crawler's rights (`forger`): what any neighbour with those rights may write or NOTIFY.
 */
export async function databaseWithCrawlerLogin(): Promise<{ postgres: PostgresServer; db: pg.Pool; crawlerRole: pg.Client; end(): Promise<void> }> {
  const postgres = await new PostgresServer().start();
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  await migrate(db);
  await db.query(`INSERT INTO league VALUES ('l', 'League');
    INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
    INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now());
    INSERT INTO scoreboard (match_id) VALUES ('m1');
    CREATE ROLE forger LOGIN IN ROLE matchcast_crawler`);
  const url = new URL(postgres.url);
  url.username = 'forger';
  url.password = '';
  const crawlerRole = new pg.Client(url.toString());
  await crawlerRole.connect();
  const end = async () => {
    await crawlerRole.end();
    await db.end();
    await postgres.destroy();
  };
  return { postgres, db, crawlerRole, end };
}
