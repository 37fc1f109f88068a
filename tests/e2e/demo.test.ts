/**
 * `make demo`'s script (scripts/dist/demo.js) as a user runs it, with its own data dir and
 * ports: through the edge proxy it serves the page, the API's development sign-in and the
 * gateway's REST, WebSocket and SSE; the secret it made signs tokens the gateway accepts; and
 * Ctrl-C (SIGINT) stops every process it started.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePortRange, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import WebSocket from 'ws';
import { LOG_DIR } from '../harness/stack';

const ROOT = resolve(__dirname, '..', '..');
/** The demo uses PORT … PORT+12 (see scripts/src/demo.ts). */
const PORT_SPAN = 13;

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

/** Opens a WebSocket and collects its messages. */
function openSocket(url: string): Promise<{ socket: WebSocket; messages: Record<string, unknown>[] }> {
  return new Promise((done, fail) => {
    const socket = new WebSocket(url);
    const messages: Record<string, unknown>[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
    socket.once('open', () => done({ socket, messages }));
    socket.once('error', fail);
  });
}

describe('make demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'matchcast-demo-'));
  let base: number;
  let demo: ManagedChild;
  let edge: string;

  beforeAll(async () => {
    chmodSync(dataDir, 0o755); // the embedded Postgres runs as its own user (when we are root)
    base = await freePortRange(PORT_SPAN);
    edge = `http://127.0.0.1:${base}`;
    const { DATABASE_URL: _db, REDIS_URL: _redis, ...env } = process.env;
    demo = startChild(process.execPath, [join(ROOT, 'scripts', 'dist', 'demo.js')], join(LOG_DIR, 'demo.log'), {
      env: { ...env, PORT: String(base), DEMO_DATA_DIR: dataDir },
    });
    await waitFor('the demo behind its edge', async () => ((await fetch(`${edge}/api/dev/users`)).ok ? true : undefined), 120_000, 250);
    // The gateway's readiness is on its ops port (PORT+4), not behind the edge.
    await waitFor('the gateway ready', async () => ((await fetch(`http://127.0.0.1:${base + 4}/readyz`)).ok ? true : undefined), 30_000, 250);
  }, 180_000);

  afterAll(async () => {
    await demo?.stop('SIGINT', 30_000);
  });

  it('serves the page and its client bundle', async () => {
    const page = await fetch(`${edge}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/matchcast-client.js');
    const bundle = await fetch(`${edge}/matchcast-client.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('createNotifications');
  });

  it('routes /api/ to the API and /api/matches to the gateway, as the Ingress does', async () => {
    const users = (await (await fetch(`${edge}/api/dev/users`)).json()) as { users: { id: string }[] };
    expect(users.users.map((user) => user.id)).toContain('alice');
    const matches = await fetch(`${edge}/api/matches`);
    expect(matches.status).toBe(200);
    expect(await matches.json()).toHaveProperty('matches');
    const unknown = await fetch(`${edge}/api/no-such-route`);
    expect(unknown.status).toBe(404);
  });

  it('signs in with a token the gateway accepts for the user’s own channel only, over a WebSocket through the edge', async () => {
    expect(readFileSync(join(dataDir, 'dev-auth-secret'), 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{64}$/);
    const signIn = await fetch(`${edge}/api/dev/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice' }) });
    expect(signIn.status).toBe(200);
    const { token } = (await signIn.json()) as { token: string };
    const me = await fetch(`${edge}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({ user: 'alice' });

    const { socket, messages } = await openSocket(`ws://127.0.0.1:${base}/ws?token=${encodeURIComponent(token)}`);
    try {
      socket.send(JSON.stringify({ action: 'subscribe', channels: ['user:alice', 'all'] }));
      await waitFor('subscribed', async () => messages.find((m) => m.type === 'subscribed'));
      socket.send(JSON.stringify({ action: 'subscribe', channels: ['user:bob'] }));
      await waitFor('refused', async () => messages.find((m) => m.type === 'error'));
      expect(messages.find((m) => m.type === 'error')).toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
      // The simulator's match updates arrive through the tunnel.
      await waitFor('a live event', async () => messages.find((m) => typeof m.seq === 'number'), 30_000);
    } finally {
      socket.close();
    }
  });

  it('routes /api/notifications/stream to the gateway: the user’s notifications as named SSE events', async () => {
    const signIn = await fetch(`${edge}/api/dev/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'bob' }) });
    const { token } = (await signIn.json()) as { token: string };
    const controller = new AbortController();
    const response = await fetch(`${edge}/api/notifications/stream`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/event: connected\n/);
    expect(text).toContain('"user_id":"bob"');
    controller.abort();
    expect((await fetch(`${edge}/api/notifications/stream`)).status).toBe(401);
  });

  it('streams SSE through the edge as it comes (not buffered)', async () => {
    const controller = new AbortController();
    const response = await fetch(`${edge}/sse?channels=all`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const started = Date.now();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toMatch(/\S/);
    expect(Date.now() - started).toBeLessThan(5000);
    controller.abort();
  });

  it('stops everything on Ctrl-C', async () => {
    demo.signal('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([demo.exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    expect(code).toBe(0);
    const open = await Promise.all(Array.from({ length: PORT_SPAN }, (_, i) => accepts(base + i)));
    expect(open.map((listening, i) => (listening ? base + i : null)).filter(Boolean)).toEqual([]);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false); // Postgres stopped too
  }, 40_000);
});
