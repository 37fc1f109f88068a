/**
 * The client against a hostile or buggy server, in-process (a real `ws` server and a real
 * socket, no Postgres): malformed frames, forged positions, connections that close at once
 * or never answer the handshake. The client must not throw into the app, must not corrupt its
 * resume positions and must back off rather than loop.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { MatchcastClient } from '../src/client';
import type { MatchcastClientOptions, MatchcastError } from '../src/types';
import { sign } from './support';
import { MIN_REFRESH_INTERVAL_MS } from '../src/token';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  wss: WebSocketServer;
  url: string;
  sockets: WebSocket[];
  /** Every client frame, parsed, per connection (index = connection number). */
  frames: unknown[][];
  close(): Promise<void>;
}

/** A ws server that plays the gateway as the test scripts it: `onConnection(socket, index)`. */
async function server(onConnection: (socket: WebSocket, index: number, frames: unknown[]) => void): Promise<Server> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const sockets: WebSocket[] = [];
  const frames: unknown[][] = [];
  wss.on('connection', (socket) => {
    const index = sockets.length;
    sockets.push(socket);
    const mine: unknown[] = [];
    frames.push(mine);
    socket.on('message', (data) => mine.push(JSON.parse(String(data))));
    onConnection(socket, index, mine);
  });
  return {
    wss,
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
    sockets,
    frames,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Answers subscribe with subscribed and ping with pong, like the gateway. */
function polite(socket: WebSocket): void {
  socket.send(JSON.stringify({ type: 'connection_status', status: 'connected', connection_id: 'c', server_time: new Date().toISOString() }));
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { action: string; channels?: string[] };
    if (message.action === 'subscribe') socket.send(JSON.stringify({ type: 'subscribed', channels: message.channels }));
    if (message.action === 'ping') socket.send(JSON.stringify({ type: 'pong', timestamp: new Date().toISOString() }));
  });
}

const event = (stream: string, seq: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'match_update',
  match_id: stream.slice(6),
  data: {},
  timestamp: new Date().toISOString(),
  channel: 'all',
  stream,
  seq,
  id: `${stream}:${String(seq)}`,
  ...extra,
});

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function client(url: string, options: Partial<MatchcastClientOptions> = {}) {
  const errors: MatchcastError[] = [];
  const c = new MatchcastClient({ url, WebSocket, transports: ['websocket'], pingIntervalMs: 0, onError: (e) => errors.push(e), ...options });
  return { client: c, errors };
}

let uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);
beforeEach(() => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
});

describe('malformed frames', () => {
  it('frames that are not objects (null, numbers, strings, arrays) or lack fields are dropped, nothing throws, and later events still arrive', async () => {
    const junk = ['null', '42', '"text"', '[]', '[1,2]', 'true', '{"type":"unsubscribed"}', '{"type":"unsubscribed","channels":"all"}',
      '{"type":"unsubscribed","channels":[1,null]}', '{"type":"error"}', '{"type":"error","code":{"x":1},"stream":7}', '{not json', ''];
    const s = await server((socket) => {
      polite(socket);
      socket.on('message', (data) => {
        if ((JSON.parse(String(data)) as { action: string }).action !== 'subscribe') return;
        for (const frame of junk) socket.send(frame);
        socket.send(JSON.stringify(event('match:a', 1)));
      });
    });
    const { client: c } = client(s.url);
    const seen: number[] = [];
    c.subscribe('all', (e) => seen.push(e.seq));
    c.connect();
    try {
      await until('the event after the junk', () => seen.length === 1);
      await sleep(50);
      expect(uncaught).toEqual([]);
      expect(c.channels).toEqual(['all']);
      expect(c.state).toBe('live');
    } finally {
      c.close();
      await s.close();
    }
  });

  it('an event with a malformed seq or stream (1.5, -1, 1e300, "3", a stream the server would refuse) is dropped: it moves no position, and the next reconnect is not refused', async () => {
    const bad = [
      event('match:a', 1e300),
      event('match:a', 2.5),
      event('match:a', -1),
      event('match:a', '9'),
      event('match:a', 2 ** 60),
      { ...event('match:a', 5), stream: 'match:has spaces!' },
      { ...event('match:a', 5), stream: 'x'.repeat(200) },
      { ...event('match:a', 5), timestamp: 12345 },
    ];
    const s = await server((socket, index) => {
      polite(socket);
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { action: string; resume?: Record<string, number> };
        if (message.action !== 'subscribe') return;
        if (index === 0) {
          socket.send(JSON.stringify(event('match:a', 1)));
          for (const frame of bad) socket.send(JSON.stringify(frame));
          socket.send(JSON.stringify(event('match:a', 2)));
          setTimeout(() => socket.close(1011), 50);
        }
      });
    });
    const { client: c, errors } = client(s.url, { backoff: { lostJitterMs: 10 } });
    const seen: unknown[] = [];
    c.subscribe('all', (e) => seen.push(e.seq));
    c.connect();
    try {
      await until('the reconnect', () => s.frames.length >= 2 && s.frames[1]!.length > 0);
      expect(seen).toEqual([1, 2]);
      expect(c.position('match:a')).toBe(2);
      const resubscribe = s.frames[1]![0] as { resume: Record<string, unknown>; since?: unknown };
      expect(resubscribe.resume).toEqual({ 'match:a': 2 });
      expect(typeof resubscribe.since).toBe('string');
      expect(errors.filter((e) => e.fatal)).toEqual([]);
    } finally {
      c.close();
      await s.close();
    }
  });

  it('a connection_status whose server_time is not a string does not become `since`', async () => {
    const s = await server((socket, index) => {
      socket.send(JSON.stringify({ type: 'connection_status', status: 'connected', connection_id: 'c', server_time: 123 }));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { action: string; channels: string[] };
        if (message.action === 'subscribe') socket.send(JSON.stringify({ type: 'subscribed', channels: message.channels }));
        if (index === 0 && message.action === 'subscribe') setTimeout(() => socket.close(1011), 20);
      });
    });
    const { client: c } = client(s.url, { backoff: { lostJitterMs: 10 } });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('the reconnect', () => s.frames.length >= 2 && s.frames[1]!.length > 0);
      expect((s.frames[1]![0] as { since?: unknown }).since).toBeUndefined();
    } finally {
      c.close();
      await s.close();
    }
  });
});

describe('a server that ends every connection at once', () => {
  const backoff = { baseMs: 100, maxMs: 10_000, lostJitterMs: 100, drainJitterMs: 100 };
  // Without escalation these come back every ~50 ms (60 connections in 3 s); with exponential
  // backoff from 100 ms the expected count is about 6.
  const cases: [string, (socket: WebSocket) => void][] = [
    ['closes with 1011 right after the upgrade', (socket) => socket.close(1011)],
    ['drains (1012) right after the upgrade', (socket) => socket.close(1012)],
    ['answers the subscribe, then closes with 1011', (socket) => {
      polite(socket);
      socket.on('message', () => setImmediate(() => socket.close(1011)));
    }],
    ['answers the subscribe, then terminates the TCP connection', (socket) => {
      polite(socket);
      socket.on('message', () => setImmediate(() => socket.terminate()));
    }],
  ];
  it.each(cases)('%s: the client backs off exponentially (with jitter), no reconnect loop', async (_name, behave) => {
    const s = await server((socket) => behave(socket));
    const { client: c } = client(s.url, { backoff });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await sleep(3000);
      expect(s.sockets.length).toBeGreaterThanOrEqual(2);
      expect(s.sockets.length).toBeLessThan(15);
      expect(uncaught).toEqual([]);
    } finally {
      c.close();
      await s.close();
    }
  });
});

describe('a server that never answers', () => {
  /** A TCP server that accepts connections and never says a word. */
  async function silentTcp(): Promise<{ url: string; connections: net.Socket[]; ended: Set<net.Socket>; close(): Promise<void> }> {
    const connections: net.Socket[] = [];
    const ended = new Set<net.Socket>();
    const tcp = net.createServer((socket) => {
      connections.push(socket);
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      socket.on('end', () => ended.add(socket));
      socket.on('close', () => ended.add(socket));
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    return {
      url: `ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/ws`,
      connections,
      ended,
      close: () => {
        for (const socket of connections) socket.destroy();
        return new Promise<void>((resolve) => tcp.close(() => resolve()));
      },
    };
  }

  it('the WebSocket handshake: the attempt is abandoned after connectTimeoutMs and retried', async () => {
    const tcp = await silentTcp();
    const { client: c } = client(tcp.url, { connectTimeoutMs: 300, backoff: { baseMs: 50, maxMs: 100 } });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('a second attempt', () => tcp.connections.length >= 2, 3000);
      await until('the first socket closed', () => tcp.ended.has(tcp.connections[0]!), 3000);
      expect(c.state).toBe('connecting');
    } finally {
      c.close();
      await tcp.close();
    }
  });

  it('the SSE request (no response headers): the attempt is abandoned after connectTimeoutMs and retried', async () => {
    const tcp = await silentTcp();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const EventSource = require('eventsource');
    const c = new MatchcastClient({ url: tcp.url, EventSource, transports: ['sse'], connectTimeoutMs: 300, backoff: { baseMs: 50, maxMs: 100 } });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('a second attempt', () => tcp.connections.length >= 2, 3000);
    } finally {
      c.close();
      await tcp.close();
    }
  });

  it('the subscribe (the upgrade succeeds, nothing follows): the attempt is abandoned and retried', async () => {
    const s = await server(() => undefined);
    const { client: c } = client(s.url, { connectTimeoutMs: 300, backoff: { baseMs: 50, maxMs: 100, lostJitterMs: 50 } });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('a second connection', () => s.sockets.length >= 2, 3000);
      expect(s.sockets[0]!.readyState).toBeGreaterThanOrEqual(WebSocket.CLOSING);
    } finally {
      c.close();
      await s.close();
    }
  });
});

describe('UNAVAILABLE (the database cannot answer the subscribe: "retry with backoff")', () => {
  it('answering the reconnect subscription: the client reconnects with backoff and subscribes again', async () => {
    const s = await server((socket, index) => {
      if (index > 0) return polite(socket);
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { action: string };
        if (message.action === 'subscribe') socket.send(JSON.stringify({ type: 'error', code: 'UNAVAILABLE', message: 'service temporarily unavailable; retry' }));
      });
    });
    const { client: c, errors } = client(s.url, { connectTimeoutMs: 0, backoff: { baseMs: 50, maxMs: 100, lostJitterMs: 50 } });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('live on a second connection', () => c.state === 'live', 3000);
      expect(s.sockets.length).toBe(2);
      expect(errors.map((e) => e.code)).toEqual(['UNAVAILABLE']);
    } finally {
      c.close();
      await s.close();
    }
  });

  it('answering a channel added while live: the subscribe is sent again, the channel is not silently dead', async () => {
    let refusals = 0;
    const s = await server((socket) => {
      socket.send(JSON.stringify({ type: 'connection_status', status: 'connected', connection_id: 'c', server_time: new Date().toISOString() }));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { action: string; channels: string[] };
        if (message.action !== 'subscribe') return;
        if (message.channels.includes('match:late') && refusals++ === 0) {
          return socket.send(JSON.stringify({ type: 'error', code: 'UNAVAILABLE', message: 'retry' }));
        }
        socket.send(JSON.stringify({ type: 'subscribed', channels: message.channels }));
        if (message.channels.includes('match:late')) socket.send(JSON.stringify({ ...event('match:late', 1), channel: 'match:late' }));
      });
    });
    const { client: c } = client(s.url, { connectTimeoutMs: 0, backoff: { baseMs: 50, maxMs: 100, lostJitterMs: 50 } });
    const late: number[] = [];
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('live', () => c.state === 'live');
      c.subscribe('match:late', (e) => late.push(e.seq));
      await until('the late channel’s event', () => late.length === 1, 3000);
      expect(c.channels.sort()).toEqual(['all', 'match:late']);
    } finally {
      c.close();
      await s.close();
    }
  });
});

describe('a hostile SSE endpoint', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const EventSource = require('eventsource');
  const backoff = { baseMs: 100, maxMs: 10_000, lostJitterMs: 100, drainJitterMs: 100 };

  async function sse(respond: (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void) {
    let requests = 0;
    const server = http.createServer((req, res) => respond(req, res, requests++));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`,
      get requests() {
        return requests;
      },
      close: () => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }
  const sseClient = (url: string, options: Partial<MatchcastClientOptions> = {}) => {
    const errors: MatchcastError[] = [];
    const c = new MatchcastClient({ url: 'ws://unused/ws', sseUrl: url, EventSource, transports: ['sse'], backoff, onError: (e) => errors.push(e), ...options });
    return { client: c, errors };
  };
  const head = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const data = (message: unknown) => `data: ${JSON.stringify(message)}\n\n`;

  it.each([500, 502, 503, 400, 404])('answering %i to every request: the client backs off, no loop', async (status) => {
    const server = await sse((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"X"}'));
    const { client: c } = sseClient(server.url);
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await sleep(3000);
      expect(server.requests).toBeGreaterThanOrEqual(2);
      expect(server.requests).toBeLessThan(15);
    } finally {
      c.close();
      await server.close();
    }
  });

  it('a stream that opens with `retry: 0` and ends at once, every time, never answering the subscribe: not a loop', async () => {
    const server = await sse((_req, res) => {
      head(res);
      res.end('retry: 0\n\n');
    });
    const { client: c } = sseClient(server.url, { connectTimeoutMs: 500 });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await sleep(3000);
      expect(server.requests).toBeLessThan(60);
    } finally {
      c.close();
      await server.close();
    }
  });

  it('garbage lines, events without ids, forged ids and malformed data are skipped; the stream goes on', async () => {
    const server = await sse((_req, res) => {
      head(res);
      res.write(data({ type: 'subscribed', channels: ['all'] }));
      res.write('garbage without a colon\n\n: a comment\n\nevent: weird\ndata: {}\n\nid: forged-token\ndata: not json\n\ndata: null\n\ndata: [1,2]\n\n');
      res.write(`id: \u0000\ndata: ${JSON.stringify(event('match:a', 'x'))}\n\n`);
      res.write(data(event('match:a', 1)));
      res.write(`id: ${'A'.repeat(100_000)}\n${data(event('match:a', 2))}`);
    });
    const { client: c } = sseClient(server.url);
    const seen: unknown[] = [];
    c.subscribe('all', (e) => seen.push(e.seq));
    c.connect();
    try {
      await until('both events', () => seen.length === 2);
      expect(seen).toEqual([1, 2]);
      expect(c.state).toBe('live');
      expect(uncaught).toEqual([]);
    } finally {
      c.close();
      await server.close();
    }
  });
});

describe('close codes of every class', () => {
  const reconnecting = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4002, 4008, 4999];
  it.each(reconnecting)('%i after the subscribe: the client reconnects and resubscribes (nothing thrown, not offline)', async (code) => {
    const s = await server((socket, index) => {
      polite(socket);
      if (index === 0) socket.on('message', () => setImmediate(() => socket.close(code)));
    });
    const { client: c, errors } = client(s.url, { backoff: { baseMs: 20, maxMs: 50, lostJitterMs: 20, drainJitterMs: 20 } });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('the second connection live', () => s.sockets.length === 2 && c.state === 'live', 3000);
      expect(errors.filter((e) => e.fatal)).toEqual([]);
      expect(uncaught).toEqual([]);
    } finally {
      c.close();
      await s.close();
    }
  });

  it('4003 (forbidden) goes offline with a fatal error; close() after it is safe, twice', async () => {
    const s = await server((socket) => {
      polite(socket);
      socket.on('message', () => setImmediate(() => socket.close(4003)));
    });
    const { client: c, errors } = client(s.url);
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('offline', () => c.state === 'offline');
      expect(errors.at(-1)).toMatchObject({ fatal: true, closeCode: 4003 });
      await sleep(200);
      expect(s.sockets.length).toBe(1);
    } finally {
      c.close();
      c.close();
      await s.close();
    }
  });
});

describe('a server that answers every token refresh with a bogus expiry', () => {
  /** A server answering each refresh with `expires_at` of `expiry()`; the client's refresh frames over 3 s after the first. */
  async function refreshesAgainst(expiry: () => string): Promise<number> {
    const s = await server((socket) => {
      polite(socket);
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { action: string };
        if (message.action === 'refresh') socket.send(JSON.stringify({ type: 'refreshed', expires_at: expiry() }));
      });
    });
    let calls = 0;
    // The first token lives 2 s: its refresh is due at half-life; every later one lives 10 minutes.
    const { client: c, errors } = client(s.url, { token: () => sign('alice', calls++ === 0 ? 2 : 600, calls) });
    c.subscribe('all', () => undefined);
    c.connect();
    try {
      await until('the first refresh', () => (s.frames[0] ?? []).some((f) => (f as { action: string }).action === 'refresh'), 3000);
      await sleep(3000);
      expect(s.sockets.length).toBe(1);
      expect(errors.filter((e) => e.fatal)).toEqual([]);
      expect(uncaught).toEqual([]);
      return (s.frames[0] ?? []).filter((f) => (f as { action: string }).action === 'refresh').length;
    } finally {
      c.close();
      await s.close();
    }
  }

  it('already past: the token\'s own expiry counts, not a refresh per round trip', async () => {
    expect(await refreshesAgainst(() => new Date(Date.now() - 60_000).toISOString())).toBe(1);
  });

  it(`100 ms away: one refresh per MIN_REFRESH_INTERVAL_MS (${MIN_REFRESH_INTERVAL_MS} ms) at most`, async () => {
    // Without the floor: one every ~50 ms. (An answer that arrives after its expiry leaves the token's own.)
    const refreshes = await refreshesAgainst(() => new Date(Date.now() + 100).toISOString());
    expect(refreshes).toBeLessThanOrEqual(1 + Math.ceil(3000 / MIN_REFRESH_INTERVAL_MS));
  });
});

describe('httpSnapshot against an API that never answers', () => {
  it('fails after its timeout instead of hanging (a hung reload would hold every later one)', async () => {
    const { httpSnapshot } = await import('../src/scoreboard');
    const sockets: net.Socket[] = [];
    const tcp = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      await expect(httpSnapshot(`http://127.0.0.1:${(tcp.address() as AddressInfo).port}`, '', 300)()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tcp.close(resolve));
    }
  });
});
