/**
 * Frame-level floods against a running gateway (real Postgres): pings by the thousand, fragments of a message that never ends, continuation frames with
 * nothing in them, and protocol violations. Each connection is ended in bounded time and
 * memory (ws 8.23's maxPendingAutoPongs, maxFragments, maxPayload; the gateway's rate limit),
 * with a close code where the peer can still read one, and a subscribed client keeps receiving.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Client } from 'pg';
import type { Gateway } from '../src/gateway';
import { startOneMatchGateway, within } from './one-match-gateway';
import { TestClient } from './support';

/** A masked client frame (zero mask key: the payload goes as is). */
function frame(opcode: number, payload: Buffer, { fin = true, rsv1 = false, masked = true } = {}): Buffer {
  const head = Buffer.from([(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode, (masked ? 0x80 : 0) | payload.length]);
  return Buffer.concat([head, masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

/** A raw WebSocket connection past its handshake; `ended` resolves with the close code sent (or 'none') once the socket closes. */
function rawWs(port: number): Promise<{ socket: Socket; ended: Promise<number | 'none'> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const ended = new Promise<number | 'none'>((done) =>
      socket.on('close', () => {
        // Server frames are unmasked: a close frame is 0x88, length, code.
        const at = received.lastIndexOf(Buffer.from([0x88]));
        done(at >= 0 && received.length >= at + 4 ? received.readUInt16BE(at + 2) : 'none');
      }),
    );
    socket.on('data', (chunk) => {
      if (received.length === 0 && !chunk.toString('latin1').startsWith('HTTP/1.1 101')) reject(new Error(chunk.toString()));
      received = Buffer.concat([received, chunk]);
      if (received.length === chunk.length) resolve({ socket, ended });
    });
  });
}

describe('gateway: frame floods', () => {
  let gateway: Gateway;
  let db: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ gateway, db, close } = await startOneMatchGateway());
  });

  afterAll(() => close?.());

  it('ends each flooding or violating connection quickly; a subscriber keeps receiving', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');

    const floods: Record<string, (socket: Socket) => void> = {
      // 10,000 pings in one write: ws drops the connection once 60 pongs wait to be written (no close frame).
      'ping flood': (socket) => socket.write(Buffer.concat(Array.from({ length: 10_000 }, () => frame(0x9, Buffer.alloc(125, 0x61))))),
      'empty continuation flood': (socket) =>
        socket.write(Buffer.concat([frame(0x1, Buffer.from('{'), { fin: false }), ...Array.from({ length: 20_000 }, () => frame(0x0, Buffer.alloc(0), { fin: false }))])),
      'fragments past maxPayload': (socket) =>
        socket.write(Buffer.concat([frame(0x1, Buffer.from('{'), { fin: false }), ...Array.from({ length: 100 }, () => frame(0x0, Buffer.alloc(100, 0x20), { fin: false }))])),
      'RSV1 without deflate': (socket) => socket.write(frame(0x1, Buffer.from('{"action":"ping"}'), { rsv1: true })),
      'unmasked frame': (socket) => socket.write(frame(0x1, Buffer.from('{"action":"ping"}'), { masked: false })),
      'invalid UTF-8': (socket) => socket.write(frame(0x1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))),
      'fragmented ping': (socket) => socket.write(frame(0x9, Buffer.alloc(4), { fin: false })),
    };
    const expected: Record<string, number | 'none'> = {
      'ping flood': 'none',
      'empty continuation flood': 1008,
      'fragments past maxPayload': 1009,
      'RSV1 without deflate': 1002,
      'unmasked frame': 1002,
      'invalid UTF-8': 1007,
      'fragmented ping': 1002,
    };
    const results: Record<string, unknown> = {};
    for (const [name, flood] of Object.entries(floods)) {
      const { socket, ended } = await rawWs(gateway.port);
      flood(socket);
      results[name] = await within(ended, 5000);
      socket.destroy();
    }
    expect(results).toEqual(expected);

    await db.query(`UPDATE match SET status = 'live' WHERE id = 'm1'`);
    await client.next((m) => m.channel === 'match:m1' && m.type === 'match_status');
    client.ws.close();
  }, 60_000);

  it('applies an unsubscribe and answers a ping past the message rate (in order, with no RATE_LIMITED); a flood of them is still cut off', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    const watcher = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await watcher.opened();
    watcher.send({ action: 'subscribe', channels: ['match:m1'] });
    await watcher.next((m) => m.type === 'subscribed');
    // The burst is twice WS_MESSAGES_PER_SECOND (40): the last of these come past the rate.
    const frames = [...Array.from({ length: 45 }, () => ({ action: 'ping' })), { action: 'unsubscribe', channels: ['match:m1'] }, { action: 'ping' }];
    for (const frame of frames) client.send(frame);
    const answers = () => client.messages.filter((m) => m.type === 'pong' || m.type === 'unsubscribed' || m.type === 'error').map((m) => m.code ?? m.type);
    await client.next(() => answers().length >= frames.length);
    expect(answers()).toEqual([...Array(45).fill('pong'), 'unsubscribed', 'pong']);
    // Unsubscribed for real: the next event of m1 reaches the watcher, not the client.
    await db.query(`INSERT INTO football_event (match_id, minute, type, team) VALUES ('m1', 10, 'goal', 'home')`);
    const event = await watcher.next((m) => m.channel === 'match:m1' && m.type === 'match_event');
    client.send({ action: 'ping' });
    await client.next(() => client.messages.filter((m) => m.type === 'pong').length === 47);
    expect(client.messages.filter((m) => m.seq === event.seq)).toEqual([]);
    // Still counted against the rate: past it for long, pings and unsubscribes close the connection.
    for (let i = 0; i < 400; i++) client.ws.send(JSON.stringify(i % 2 ? { action: 'ping' } : { action: 'unsubscribe', channels: ['match:m1'] }));
    expect(await within(client.closed, 5000)).toEqual({ code: 1008, reason: 'RATE_LIMITED' });
    expect(watcher.ws.readyState).toBe(watcher.ws.OPEN);
    watcher.ws.close();
  }, 30_000);
});
