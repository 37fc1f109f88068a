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
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now())`);
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
});
