/**
 * Connections that never finish a request, against a running gateway (real Postgres): bare
 * TCP connects that send nothing, headers trickled a byte a second (slowloris), a WebSocket
 * upgrade whose headers never end, a body that never ends. Each costs a file descriptor and is
 * under no per-address cap (those count admitted streams), so each must be cut within seconds,
 * on the client port and on the ops port, while subscribed clients keep receiving.
 */
import { connect, type Socket } from 'node:net';
import type { Client } from 'pg';
import type { Gateway } from '../src/gateway';
import { startOneMatchGateway, within } from './one-match-gateway';
import { TestClient, rawRequest } from './support';

/** Headers must be complete within 10 s, the whole request within 30 s (HTTP_SERVER_TIMEOUTS), checked every second. */
const HEADERS_CUT_MS = 13_000;
const REQUEST_CUT_MS = 33_000;

interface Slow {
  /** The first line of what the server answered, and when (ms after connecting) it closed. */
  closed: Promise<{ status: string; afterMs: number }>;
  stop(): void;
}

/** A connection that sends `start` and then one byte of `trickle` a second, forever. */
function slowClient(port: number, start: string, trickle = 'a'): Slow {
  const socket: Socket = connect(port, '127.0.0.1');
  const begun = Date.now();
  let answer = '';
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    if (start === '') return;
    socket.write(start);
    timer = setInterval(() => socket.write(trickle), 1000);
  });
  socket.on('data', (chunk) => (answer += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<{ status: string; afterMs: number }>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ status: answer.split('\r\n')[0] ?? '', afterMs: Date.now() - begun });
    }),
  );
  return { closed, stop: () => (clearInterval(timer), socket.destroy()) };
}

describe('gateway: connections that never finish a request', () => {
  let gateway: Gateway;
  let db: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ gateway, db, close } = await startOneMatchGateway());
  });

  afterAll(() => close?.());

  // Before: each of these lived 60-90 s (Node's headersTimeout, checked every 30 s), a body 300 s.
  it('cuts idle, slowloris, half-sent upgrade and trickled-body connections within seconds on both ports; subscribers keep receiving', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');

    const slow: Record<string, Slow> = {};
    for (const [port, name] of [
      [gateway.port, 'client'],
      [gateway.opsPort, 'ops'],
    ] as const) {
      slow[`${name} idle`] = slowClient(port, '');
      slow[`${name} slowloris`] = slowClient(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ');
      slow[`${name} upgrade`] = slowClient(
        port,
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nX-Pad: ',
      );
      slow[`${name} body`] = slowClient(port, 'POST /api/matches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n', ' ');
    }
    try {
      // Meanwhile, the subscribed client is served as ever.
      await db.query(`UPDATE match SET status = 'live' WHERE id = 'm1'`);
      await client.next((m) => m.channel === 'match:m1' && m.type === 'match_status');

      const results = Object.fromEntries(
        await Promise.all(Object.entries(slow).map(async ([name, connection]) => [name, await within(connection.closed, REQUEST_CUT_MS + 1000)] as const)),
      );
      for (const [name, result] of Object.entries(results)) {
        const bound = name.endsWith('body') ? REQUEST_CUT_MS : HEADERS_CUT_MS;
        expect([name, result === 'still open' ? result : result.afterMs <= bound]).toEqual([name, true]);
      }
      // A request whose headers never end is told so: 408, not a bare close or a 400.
      for (const name of ['client slowloris', 'client upgrade', 'ops slowloris', 'ops upgrade']) {
        expect([name, (results[name] as { status: string }).status]).toEqual([name, expect.stringMatching(/^HTTP\/1\.1 408 /)]);
      }
      await db.query(`INSERT INTO scoreboard (match_id, home_score) VALUES ('m1', 1)`);
      await client.next((m) => m.channel === 'match:m1' && m.type === 'match_update');
      expect(client.ws.readyState).toBe(client.ws.OPEN);
    } finally {
      for (const connection of Object.values(slow)) connection.stop();
      client.ws.close();
    }
  }, 60_000);

  // Before: 400 BAD_REQUEST "malformed HTTP request (HPE_HEADER_OVERFLOW)".
  it('answers headers over 16 KiB with 431 HEADERS_TOO_LARGE and closes', async () => {
    const answer = await rawRequest(gateway.port, `GET /api/matches HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 431 HEADERS_TOO_LARGE');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'HEADERS_TOO_LARGE' });
  });

  // Before: Node handed every parsed request to the handlers at once: 4 connections pipelining
  // 5000 GET /api/matches each (not reading the answers) took the heap from 16 MB to 280 MB, and a
  // bystander's request waited 4-14 s for the pool.
  // (packages/runtime/test/pipelining.test.ts counts what reaches the handlers; this is the gateway end to end.)
  it('closes a connection that pipelines more than 16 requests; up to 16 are answered; bystanders are served at once', async () => {
    const request = 'GET /api/matches?limit=500 HTTP/1.1\r\nHost: x\r\n\r\n';
    // Read until all 16 are answered, not for a fixed 3 s (rawRequest): a loaded machine may take longer.
    const sixteen = await new Promise<{ answers: number; closed: boolean }>((resolve) => {
      const socket = connect(gateway.port, '127.0.0.1');
      let answers = 0;
      const done = (closed: boolean) => (clearTimeout(timer), socket.destroy(), resolve({ answers, closed }));
      socket.on('data', (chunk) => {
        answers += chunk.toString().match(/HTTP\/1\.1 200 /g)?.length ?? 0;
        if (answers >= 16) done(false);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => done(true));
      socket.write(request.repeat(16));
      const timer = setTimeout(() => done(false), 20_000);
    });
    expect(sixteen).toEqual({ answers: 16, closed: false });

    const floods = Array.from({ length: 4 }, () => {
      const socket = connect(gateway.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.resume(); // read (and drop) what comes, so that the close is seen
      socket.write(request.repeat(5000));
      return new Promise<boolean>((resolve) => {
        socket.on('close', () => resolve(true));
        setTimeout(() => (resolve(false), socket.destroy()), 20_000).unref();
      });
    });
    const started = Date.now();
    const bystander = await fetch(`http://127.0.0.1:${gateway.port}/api/matches?limit=1`);
    expect(bystander.status).toBe(200);
    // Before, 4-14 s on a quiet machine (20,000 reads queued before it); now a few ms there. What
    // it waits for now is Node parsing the rest of each flood's first 64 KiB after the close
    // (~1,350 requests a connection, none handed over): 3.4-8 s with both cores of a 2-core
    // machine busy. The bound is for that; the count of requests handed over is checked exactly
    // in the runtime's test.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await Promise.all(floods)).toEqual([true, true, true, true]);
  }, 60_000);
});
