import { connect, type Socket } from 'node:net';
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';

/** A client that completes the handshake, subscribes, and then never reads again. */
async function stalledClient(port: number, channel: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await new Promise((resolve) => socket.once('data', resolve));
  const payload = Buffer.from(JSON.stringify({ action: 'subscribe', channels: [channel] }));
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  await new Promise((r) => setTimeout(r, 200));
  socket.pause();
  return socket;
}

/** An SSE client that gets the response head, then never reads again. */
async function stalledSseClient(port: number, channel: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /sse?channels=${encodeURIComponent(channel)} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
  const head = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  expect(head).toMatch(/^HTTP\/1\.1 200 /);
  await new Promise((r) => setTimeout(r, 200));
  socket.pause();
  return socket;
}

describe('slow consumers', () => {
  let server: PostgresServer;
  let db: pg.Client;
  let gateway: Gateway;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    db = new pg.Client(server.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m', 'l', 'a', 'b', now());
      INSERT INTO matchdata (match_id) VALUES ('m')`);
    const env = new EnvReader({ DATABASE_URL: server.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', WS_MAX_BUFFERED_BYTES: '524288' });
    gateway = await startGateway(loadConfig(env), createLogger('gateway', 'silent'));
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await server?.destroy();
  });

  /** The value of matchcast_gateway_slow_consumers_total. */
  const slowConsumers = async () => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.opsPort}/metrics`)).text();
    return Number(/matchcast_gateway_slow_consumers_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it.each([
    ['a WebSocket', stalledClient],
    ['an SSE', stalledSseClient],
  ])('cuts off %s client that stops reading, while the others get everything', async (_, stall) => {
    const slowBefore = await slowConsumers();
    const stalled = await stall(gateway.port, 'match:m');
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.on('error', () => undefined);

    const healthy = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`);
    const seqs: number[] = [];
    healthy.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.seq) seqs.push(message.seq);
    });
    await new Promise((resolve) => healthy.once('open', resolve));
    healthy.send(JSON.stringify({ action: 'subscribe', channels: ['match:m'] }));
    await new Promise((r) => setTimeout(r, 100));

    // Paced bursts: a client that reads keeps up; one that doesn't read piles up ~9 MB.
    const events = 1500;
    for (let batch = 0; batch < events / 50; batch++) {
      await db.query(`DO $$ BEGIN FOR i IN 1..50 LOOP
          UPDATE matchdata SET attendance = ${batch} * 50 + i, extra = jsonb_build_object('pad', repeat('x', 6000)) WHERE match_id = 'm';
        END LOOP; END $$`);
      await new Promise((r) => setTimeout(r, 30));
    }

    const deadline = Date.now() + 15_000;
    while (seqs.length < events && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(seqs.length).toBe(events);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(await slowConsumers()).toBe(slowBefore + 1);
    // The gateway has dropped it: once it reads again it finds the end of the stream.
    stalled.resume();
    await Promise.race([stalledClosed, new Promise((_, reject) => setTimeout(() => reject(new Error('stalled client was not cut off')), 5000))]);
    healthy.close();
  });
});
