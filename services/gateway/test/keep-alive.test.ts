/**
 * The keep-alive sweep on a real socket: every WebSocket client is pinged each interval (the
 * ping frame goes out through the write batch, as events do), a client that answers stays, and
 * one that never answers is dropped after interval + timeout.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TestClient } from './support';

describe('WebSocket keep-alive', () => {
  let server: PostgresServer;
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    const db = new pg.Client(server.url);
    await db.connect();
    await migrate(db);
    await db.end();
    const env = { DATABASE_URL: server.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', WS_PING_INTERVAL_MS: '1000', WS_PING_TIMEOUT_MS: '1000', CANARY_INTERVAL_MS: '0' };
    gateway = await startGateway(loadConfig(new EnvReader(env)), createLogger('gateway', 'silent'));
    url = `ws://127.0.0.1:${gateway.port}/ws`;
  });

  afterAll(async () => {
    await gateway?.close();
    await server?.destroy();
  });

  it('pings every client each interval; one that answers stays, one that never does is dropped', async () => {
    const answering = new TestClient(url);
    const silent = new TestClient(url, { autoPong: false });
    await Promise.all([answering.opened(), silent.opened()]);
    let pings = 0;
    answering.ws.on('ping', (data) => {
      expect(data.length).toBe(0);
      pings++;
    });
    const dropped = await silent.closed;
    expect(dropped.code).toBe(1006); // terminated: no closing handshake with a dead peer
    // Pinged again each interval, and kept. (Not counted at the drop itself: a sweep that comes
    // late on a loaded machine may drop the silent one at its first ping of the other.)
    await waitFor('a second ping', async () => (pings >= 2 ? true : undefined), 5000);
    answering.send({ action: 'ping' });
    await answering.next((m) => m.type === 'pong');
    answering.ws.close();
  }, 15_000);
});
