/**
 * While the database cannot answer, what needs a read is refused as the client can act on it:
 * 503 / UNAVAILABLE (retry), never 500 / INTERNAL, and no connection is lost for it; once the
 * database is back, the same requests succeed.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, token } from './support';

describe('a gateway whose database is down', () => {
  let postgres: PostgresServer;
  let gateway: Gateway;
  let base: string;

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    const db = new pg.Client(postgres.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League'); INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now()), ('m2', 'l', 'b', 'a', now())`);
    await db.end();
    const config = loadConfig(
      new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    base = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    await gateway?.close();
    await postgres?.destroy();
  });

  it('answers REST, WebSocket subscribes and SSE requests that need a read with UNAVAILABLE; the connection lives on', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token('alice', 600)}`);
    await client.opened();
    await postgres.stop();

    const rest = await fetch(`${base}/api/matches`);
    expect([rest.status, await rest.json()]).toEqual([503, expect.objectContaining({ error: 'UNAVAILABLE' })]);
    // A match channel not known here needs its league read first.
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    expect(await client.next((m) => m.type === 'error', 20_000)).toMatchObject({ code: 'UNAVAILABLE' });
    const sse = await fetch(`${base}/sse?channels=match:m1`);
    expect([sse.status, await sse.json()]).toEqual([503, expect.objectContaining({ error: 'UNAVAILABLE' })]);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);

    await postgres.start();
    await waitFor('REST answers again', async () => ((await fetch(`${base}/api/matches`)).status === 200 ? true : undefined), 20_000);
    client.messages.length = 0;
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    expect(await client.next((m) => m.type === 'subscribed' || m.type === 'error', 20_000)).toMatchObject({ type: 'subscribed' });
    client.ws.close();
  });

  it('lives on when the connection under a client\'s read ends without a word (a crashed backend, a failover): that client is told UNAVAILABLE', async () => {
    const admin = new pg.Client(postgres.url);
    admin.on('error', () => undefined); // ended with the others by the crash recovery
    await admin.connect();
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    try {
      // Hold the read of m2's league (a channel not known here yet) on a lock, then end its backend.
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE match IN ACCESS EXCLUSIVE MODE');
      client.send({ action: 'subscribe', channels: ['match:m2'] });
      const pid = await waitFor('the read waiting on the lock', async () => {
        const { rows } = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND query LIKE '%league%'`,
        );
        return rows[0]?.pid;
      });
      // No goodbye from the server, as when a failover or a network cut ends the connection: with
      // pg_terminate_backend the error message fails the query first and the client goes back to
      // the pool before the socket closes. Postgres then restarts every backend (crash recovery).
      process.kill(pid, 'SIGKILL');
      await admin.end().catch(() => undefined);
      expect(await client.next((m) => m.type === 'error', 20_000)).toMatchObject({ code: 'UNAVAILABLE' });

      await waitFor('the database back', async () => {
        client.messages.length = 0;
        client.send({ action: 'subscribe', channels: ['match:m2'] });
        const answer = await client.next((m) => m.type === 'subscribed' || m.type === 'error', 20_000);
        return answer.type === 'subscribed' ? answer : undefined;
      }, 30_000);
      expect((await fetch(`${base}/api/matches`)).status).toBe(200);
    } finally {
      client.ws.close();
    }
  });
});
