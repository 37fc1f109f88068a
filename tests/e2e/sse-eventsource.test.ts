/**
 * A plain page — `new EventSource('/sse?channels=…')`, no library, no URL rebuilding — in
 * Debian's Chromium across a gateway SIGKILL: goals keep going in on four matches while the
 * gateway dies and comes back on the same port. The browser's own reconnect sends the last
 * position token as Last-Event-ID, and the page must end with every event of every stream
 * exactly once, in order (the outbox, seq for seq, from its subscribe on). The same for a
 * plain EventSource on the notification stream (`/api/notifications/stream?token=`).
 */
import { mintToken } from '@matchcast/auth';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../harness/browser';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const MATCHES = ['sse-a', 'sse-b', 'sse-c', 'sse-d'];
const STREAMS = MATCHES.map((id) => `match:${id}`);
const POSITION_KEY = 'e2e-sse-position-key-shared-by-every-gateway-0123456789';
const AUTH_SECRET = 'e2e-sse-auth-secret-for-user-tokens-0123456789';

interface PageView {
  received: Record<string, number[]>;
  opens: number;
  errors: number;
  readyState: number;
  lastEventId: string;
  refusals: string[];
}

describe('a plain EventSource page across a gateway SIGKILL', () => {
  const infra = new Infra();
  let listener: ServiceProcess;
  let gateway: GatewayProcess;
  let browser: Browser;
  let page: Page;
  let writes = 0;
  let writing = true;

  async function goal(match: string): Promise<void> {
    writes++;
    await infra.db.query(`UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = $1`, [match]);
  }

  /** Goals on every match, round-robin, until told to stop (the gateway's state does not matter). */
  async function keepWriting(): Promise<void> {
    let i = 0;
    while (writing) {
      await goal(MATCHES[i++ % MATCHES.length]!);
      await new Promise((r) => setTimeout(r, 40));
    }
  }

  async function outbox(after: Record<string, number>): Promise<Record<string, number[]>> {
    const { rows } = await infra.db.query<{ stream: string; seq: number }>('SELECT stream, seq::int FROM outbox WHERE stream = ANY($1) ORDER BY stream, seq', [STREAMS]);
    const result: Record<string, number[]> = Object.fromEntries(STREAMS.map((s) => [s, []]));
    for (const row of rows) if (row.seq > after[row.stream]!) result[row.stream]!.push(row.seq);
    return result;
  }

  const view = (): Promise<PageView> =>
    page.evaluate(() => {
      const w = window as any;
      return { received: w.__received, opens: w.__opens, errors: w.__errors, readyState: w.__es.readyState, lastEventId: w.__lastEventId, refusals: w.__refusals };
    });

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
        ${MATCHES.map((id) => `('${id}', 'epl', 'ars', 'che', now(), 'live')`).join(', ')};
      INSERT INTO scoreboard (match_id) VALUES ${MATCHES.map((id) => `('${id}')`).join(', ')}`);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    listener = new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }, 'listener-sse-eventsource').start();
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, SSE_POSITION_KEY: POSITION_KEY, AUTH_JWT_SECRET: AUTH_SECRET }, 'gateway-sse-eventsource');
    gateway.start();
    await gateway.ready();
    await waitFor('gateway on the Redis path', async () => ((await gateway.mode()) === 'redis' ? true : undefined));
    browser = await launchChromium();
  });

  afterAll(async () => {
    writing = false;
    await browser?.close();
    await gateway?.stop();
    await listener?.stop();
    await infra.destroy();
  });

  it('receives every event of every stream exactly once, by the browser’s own reconnect', async () => {
    page = await browser.newPage();
    // A page of the gateway's origin that runs no script of its own and sets no CSP (a JSON
    // answer; not a 404, whose default-src 'none' would block the EventSource).
    await page.goto(`http://127.0.0.1:${gateway.port}/api/matches`);
    // Events already in the outbox before the page subscribes are not its to receive.
    const { rows } = await infra.db.query<{ stream: string; seq: number }>(
      'SELECT stream, coalesce(max(seq), 0)::int AS seq FROM outbox WHERE stream = ANY($1) GROUP BY stream', [STREAMS]);
    const before: Record<string, number> = Object.fromEntries(STREAMS.map((s) => [s, 0]));
    for (const row of rows) before[row.stream] = row.seq;

    await page.evaluate((channels) => {
      const w = window as any;
      w.__received = {};
      w.__opens = 0;
      w.__errors = 0;
      w.__refusals = [];
      w.__lastEventId = '';
      const es = new EventSource(`/sse?channels=${channels}`);
      w.__es = es;
      es.onopen = () => w.__opens++;
      es.onerror = () => w.__errors++;
      es.onmessage = (e: MessageEvent) => {
        w.__lastEventId = e.lastEventId;
        const message = JSON.parse(e.data);
        if (message.type === 'subscribed') w.__subscribed = true;
        if (message.type === 'error') w.__refusals.push(message.code);
        if (message.stream === undefined) return;
        (w.__received[message.stream] ??= []).push(message.seq);
      };
    }, STREAMS.join(','));
    await page.waitForFunction(() => (window as any).__subscribed === true, undefined, { timeout: 10_000 });

    const writer = keepWriting();
    await waitFor('live events on every stream', async () => {
      const v = await view();
      return STREAMS.every((s) => (v.received[s]?.length ?? 0) >= 3) ? true : undefined;
    }, 20_000);

    await gateway.kill();
    await page.waitForFunction(() => (window as any).__errors > 0, undefined, { timeout: 10_000 });
    const down = await view();
    expect(down.readyState).toBe(0); // CONNECTING: the browser retries by itself
    await new Promise((r) => setTimeout(r, 1500)); // goals go in while it is down
    gateway.start();
    await gateway.ready();
    await waitFor('the page reconnected by itself', async () => ((await view()).opens >= 2 ? true : undefined), 30_000);
    const writtenAtReconnect = writes;
    await waitFor('goals after the reconnect', async () => (writes >= writtenAtReconnect + 12 ? true : undefined), 20_000);
    writing = false;
    await writer;

    const want = await outbox(before);
    await waitFor('the page to reach the outbox head on every stream', async () => {
      const v = await view();
      return STREAMS.every((s) => (v.received[s] ?? []).at(-1) === want[s]!.at(-1)) ? true : undefined;
    }, 20_000).catch(() => undefined);
    const end = await view();
    for (const stream of STREAMS) expect({ stream, seqs: end.received[stream] ?? [] }).toEqual({ stream, seqs: want[stream] });
    expect(end.refusals).toEqual([]);
    expect(end.readyState).toBe(1);
    expect(end.opens).toBeGreaterThanOrEqual(2);
    expect(end.lastEventId).toMatch(/^1:/);
    // The outage really lost a live connection: something was written while the gateway was down.
    const total = Object.values(want).reduce((n, seqs) => n + seqs.length, 0);
    expect(total).toBeGreaterThan(Object.values(down.received).reduce((n, seqs) => n + (seqs as number[]).length, 0));
  });

  it('a plain EventSource on /api/notifications/stream?token= gets every change once, in order, across a SIGKILL', async () => {
    const user = 'sse-user';
    const notifications = await browser.newPage();
    await notifications.goto(`http://127.0.0.1:${gateway.port}/api/matches`);
    const token = await mintToken(AUTH_SECRET, { subject: user, ttlSeconds: 600 });
    await notifications.evaluate((url) => {
      const w = window as any;
      w.__got = [];
      w.__opens = 0;
      const es = new EventSource(url);
      w.__es = es;
      es.onopen = () => w.__opens++;
      for (const name of ['connected', 'notification', 'notification_read', 'stream_error']) {
        es.addEventListener(name, (e) => w.__got.push([name, JSON.parse((e as MessageEvent).data)]));
      }
    }, `/api/notifications/stream?token=${token}`);
    const got = () => notifications.evaluate(() => (window as any).__got as [string, any][]);
    await waitFor('connected', async () => ((await got()).length > 0 ? true : undefined), 10_000);
    const from = (await got())[0]![1].stream_seq as number;

    let running = true;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        const { rows } = await infra.db.query<{ id: string }>(
          `SELECT id::text FROM matchcast_notify_users($1::text[], $2, 'm', 'goal', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, [[user], `n${i}`]);
        if (i % 3 === 2) await infra.db.query('SELECT matchcast_mark_read($1, $2)', [user, rows[0]!.id]);
        await new Promise((r) => setTimeout(r, 60));
      }
    })();
    await waitFor('live notifications', async () => ((await got()).length >= 5 ? true : undefined), 20_000);
    await gateway.kill();
    await new Promise((r) => setTimeout(r, 1500));
    gateway.start();
    await gateway.ready();
    await waitFor('the page reconnected by itself', async () => ((await notifications.evaluate(() => (window as any).__opens)) >= 2 ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await writer;

    const { rows } = await infra.db.query<{ type: string; id: string }>(
      `SELECT type, data->>'id' AS id FROM outbox WHERE stream = $1 AND seq > $2 ORDER BY seq`, [`user:${user}`, from]);
    const want = rows.map((r) => [r.type, r.id]);
    await waitFor('every change on the page', async () => {
      const events = (await got()).filter(([name]) => name !== 'connected');
      return events.length >= want.length ? true : undefined;
    }, 20_000).catch(() => undefined);
    const events = await got();
    expect(events.filter(([name]) => name === 'stream_error')).toEqual([]);
    // A `connected` per stream start (two), then the changes: each exactly once, in the outbox's order.
    expect(events.filter(([name]) => name === 'connected')).toHaveLength(2);
    expect(events.filter(([name]) => name !== 'connected').map(([name, data]) => [name, data.id])).toEqual(want);
    expect(want.length).toBeGreaterThan(10);
    await notifications.close();
  });
});
