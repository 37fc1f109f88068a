/**
 * Pins the bytes of the prebuilt broadcast frames. `wsTextFrame` leans on ws' undocumented
 * `WebSocket.Sender.frame` (see docs/decisions/0004-frames-built-once.md): if a ws release
 * changes or drops it, these tests fail instead of every client silently receiving garbage.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import type { OutboxEvent } from '@matchcast/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import { EventFrames, REPLAY_FRAMES_LIMITS, ReplayFrames, wsTextFrame } from '../../src/delivery/frames';

/** An ASCII text of exactly `length` bytes whose bytes vary, so an offset error shows. */
const text = (length: number): string =>
  Array.from({ length }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');

/** RFC 6455 §5.2: FIN + opcode 0x1 (text), no mask bit, then the 7-bit / 16-bit / 64-bit length. */
function expectedHeader(length: number): number[] {
  if (length <= 125) return [0x81, length];
  if (length <= 0xffff) return [0x81, 126, length >> 8, length & 0xff];
  const high = Math.floor(length / 2 ** 32);
  return [
    0x81, 127,
    (high >>> 24) & 0xff, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff,
    (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff,
  ];
}

interface ReceiverLike {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  write(chunk: Buffer): boolean;
}
/** ws exports its Receiver at runtime too (undeclared in @types/ws): the parser every ws client uses. */
const Receiver = (WebSocket as unknown as { Receiver: new (options: { isServer: boolean; maxPayload: number }) => ReceiverLike })
  .Receiver;

/** Parses `frame` with ws' own client-side Receiver and returns the message it yields. */
async function parseWithWs(frame: Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const errors: Error[] = [];
  receiver.on('error', (error) => errors.push(error));
  const message = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
    receiver.on('message', (data, isBinary) => resolve({ data: Buffer.from(data), isBinary })),
  );
  receiver.write(frame);
  const result = await message;
  expect(errors).toEqual([]);
  return result;
}

const LENGTHS = [0, 5, 125, 126, 65535, 65536];

describe('wsTextFrame', () => {
  it.each(LENGTHS)('builds an unmasked FIN text frame with the RFC 6455 length encoding for %i bytes', (length) => {
    const payload = text(length);
    const frame = wsTextFrame(payload);
    const header = expectedHeader(length);

    expect(Buffer.isBuffer(frame)).toBe(true);
    expect(frame.length).toBe(header.length + length);
    expect([...frame.subarray(0, header.length)]).toEqual(header);
    expect(frame.subarray(header.length).toString('latin1')).toBe(payload);
  });

  it('encodes the length in bytes, not characters (UTF-8)', () => {
    const payload = 'é'.repeat(63); // 126 bytes: just past the 7-bit form
    const frame = wsTextFrame(payload);
    expect([...frame.subarray(0, 4)]).toEqual([0x81, 126, 0, 126]);
    expect(frame.subarray(4).toString('utf8')).toBe(payload);
  });

  it.each(LENGTHS)("is read back by ws' own Receiver as one text message (%i bytes)", async (length) => {
    const payload = text(length);
    const { data, isBinary } = await parseWithWs(wsTextFrame(payload));
    expect(isBinary).toBe(false);
    expect(data.toString('utf8')).toBe(payload);
  });

  it('reaches a real ws client intact when written straight to the TCP socket, as the gateway does', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const payloads = LENGTHS.map(text);
      server.on('connection', (ws) => {
        const socket = (ws as unknown as { _socket: Socket })._socket;
        for (const payload of payloads) socket.write(wsTextFrame(payload));
      });
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      const received: { text: string; isBinary: boolean }[] = [];
      const all = new Promise<void>((resolve, reject) => {
        client.on('message', (data: Buffer, isBinary: boolean) => {
          received.push({ text: data.toString('utf8'), isBinary });
          if (received.length === payloads.length) resolve();
        });
        client.on('error', reject);
        client.on('close', (code) => reject(new Error(`closed with ${code} after ${received.length} messages`)));
      });
      await all;
      client.terminate();
      expect(received.map((message) => message.isBinary)).toEqual(payloads.map(() => false));
      expect(received.map((message) => message.text)).toEqual(payloads);
    } finally {
      for (const ws of server.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('EventFrames', () => {
  const event: OutboxEvent = {
    id: '233',
    stream: 'match:m-1',
    seq: 17,
    type: 'match_event',
    match_id: 'm-1',
    data: { event: { type: 'goal', minute: 12 }, score: { home: 1, away: 0 } },
    timestamp: '2025-01-01T12:00:00.000Z',
  };
  const json = JSON.stringify({
    type: 'match_event',
    match_id: 'm-1',
    data: event.data,
    timestamp: event.timestamp,
    channel: 'live:all',
    stream: 'match:m-1',
    seq: 17,
    id: '233',
  });

  it('builds the WebSocket frame once and hands out the same Buffer every time', () => {
    const frames = new EventFrames(event, 'live:all');
    const first = frames.wsFrame();
    expect(frames.wsFrame()).toBe(first);
    expect(first.equals(wsTextFrame(json))).toBe(true);
  });

  it('builds the SSE data once, without the id (each connection writes its own position token first)', () => {
    const frames = new EventFrames(event, 'live:all');
    const first = frames.sseFrame();
    expect(frames.sseFrame()).toBe(first);
    expect(first.toString('utf8')).toBe(`data: ${json}\n\n`);
  });

  it('carries the channel it was built for', () => {
    const frames = new EventFrames(event, 'match:m-1');
    expect(JSON.parse(frames.sseFrame().toString('utf8').slice('data: '.length))).toMatchObject({ channel: 'match:m-1' });
  });
});

describe('ReplayFrames', () => {
  const replayed = (seq: number): OutboxEvent => ({ id: String(seq), stream: 'match:m1', seq, type: 'match_update', match_id: 'm1', data: {}, timestamp: new Date(0).toISOString() });

  it('gives every client replaying the same event on the same channel the same frames, and keeps a bounded number of events', () => {
    const frames = new ReplayFrames({ maxEvents: 2, maxBytes: Infinity });
    const [first, second, third] = [replayed(1), replayed(2), replayed(3)];
    const on = (event: OutboxEvent, channel: string) => frames.forClient(event, new Set([channel]))!;
    const shared = on(first, 'all');
    expect(on(first, 'all')).toBe(shared);
    expect(on(first, 'match:m1')).not.toBe(shared);
    expect(on(first, 'match:m1').channel).toBe('match:m1');
    on(second, 'all');
    on(third, 'all'); // the third event pushes the first out
    expect(on(first, 'all')).not.toBe(shared);
  });

  it('keeps at most its bytes: the earliest large events go, the one in use stays whatever its size', () => {
    const frames = new ReplayFrames({ maxEvents: 100, maxBytes: 50_000 });
    const large = (seq: number): OutboxEvent => ({ ...replayed(seq), data: { note: text(10_000) } });
    const events = Array.from({ length: 10 }, (_, i) => large(i + 1));
    const first = frames.forClient(events[0]!, new Set(['all']))!;
    for (const event of events.slice(1)) frames.forClient(event, new Set(['all', 'match:m1']));
    // Each entry counts ~30 KB (the event once, its text and a frame): the newest alone fits.
    expect(frames.forClient(events[0]!, new Set(['all']))).not.toBe(first);
    expect(frames.size).toEqual({ events: 1, bytes: expect.any(Number) });
    expect(frames.size.bytes).toBeLessThanOrEqual(50_000);
    const huge: OutboxEvent = { ...replayed(99), data: { note: text(100_000) } };
    const hugeFrames = frames.forClient(huge, new Set(['all']));
    expect(frames.size.events).toBe(1); // the one in use stays, alone, past the budget
    expect(frames.forClient(huge, new Set(['all']))).toBe(hugeFrames);
  });

  it('holds no more than its default byte budget after a long replay of large events (a league of big tables resumed from its start)', () => {
    const frames = new ReplayFrames();
    const table = { rows: Array.from({ length: 300 }, (_, i) => ({ position: i + 1, team: { id: `t${i}`, name: text(200) }, points: 3 * i })) };
    for (let seq = 1; seq <= 400; seq++) {
      const event: OutboxEvent = { id: String(seq), stream: 'league:l', seq, type: 'league_table', match_id: null, data: table, timestamp: new Date(0).toISOString() };
      frames.forClient(event, new Set(['league:l']))!.wsFrame();
    }
    // 400 tables of ~75 KB: bounded by events alone, all 400 stayed (~90 MB); now what fits in the budget.
    expect(frames.size.bytes).toBeLessThanOrEqual(REPLAY_FRAMES_LIMITS.maxBytes);
    expect(frames.size.events).toBeLessThan(400);
  });

  it("gives a client the frames of the most specific delivery channel it holds, shared with every client that resolves to it, or none", () => {
    const frames = new ReplayFrames();
    const event: OutboxEvent = { ...replayed(1), data: { league_id: 'l1', home_team_id: 't1', away_team_id: 't2', status: 'live' } };
    const onTopic = frames.forClient(event, new Set(['all', 'match:m1/live']));
    expect(onTopic?.channel).toBe('match:m1/live');
    expect(frames.forClient(event, new Set(['all']))).toBe(frames.forClient(event, new Set(['all', 'match:m2'])));
    expect(frames.forClient(event, new Set(['match:m2']))).toBeUndefined();
  });
});
