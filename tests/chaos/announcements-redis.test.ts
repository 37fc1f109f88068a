/**
 * Chaos, the announcement half: Redis dies while announcements are being published, edited and
 * expired (through the database functions the API calls, in a loop over three targets: everyone,
 * a league, a team). Each change appends one message to the target's stream (all, league:<id>,
 * team:<id>); redis-server is SIGKILLed in the middle and restarted. Every socket on those
 * channels, over two gateways, must end with exactly the outbox's announcement events per stream
 * — nothing lost, nothing doubled, in order — and no disconnect; the gateways fall back to their
 * own LISTEN and come back to Redis by themselves. A @matchcast/client on each gateway keeps the
 * three targets' banners (createAnnouncements: GET /api/announcements, then the stream with
 * resume): each store applies exactly the outbox's events and ends with the active ones.
 */
import { mintToken } from '@matchcast/auth';
import WebSocket from 'ws';
import { MatchcastClient, createAnnouncements, type Announcements, type AnnouncementTarget } from '@matchcast/client';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'chaos-announcements-secret-of-32-bytes!';
const ROUNDS = 60;
const STREAMS = ['all', 'league:al', 'team:at1'];
const TARGETS: [string, string | null][] = [['everyone', null], ['league', 'al'], ['team', 'at1']];

interface Banners {
  client: MatchcastClient;
  stores: Map<string, Announcements>;
  /** seqs each store applied from events, by stream */
  applied: Map<string, number[]>;
  states: string[];
}

interface Watcher {
  socket: WebSocket;
  channels: string[];
  /** announcement seqs received per stream, in arrival order */
  received: Map<string, number[]>;
  closes: number;
}

async function watch(url: string, token: string, channels: string[]): Promise<Watcher> {
  const watcher: Watcher = { socket: new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }), channels, received: new Map(), closes: 0 };
  watcher.socket.on('close', () => watcher.closes++);
  await new Promise<void>((resolve, reject) => {
    watcher.socket.once('error', reject);
    watcher.socket.once('open', () => watcher.socket.send(JSON.stringify({ action: 'subscribe', channels })));
    watcher.socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; stream?: string; seq?: number; code?: string };
      if (message.type === 'subscribed') resolve();
      else if (message.type === 'error') reject(new Error(`refused: ${message.code}`));
      else if (message.type.startsWith('announcement') && message.stream && typeof message.seq === 'number') {
        const seqs = watcher.received.get(message.stream) ?? [];
        seqs.push(message.seq);
        watcher.received.set(message.stream, seqs);
      }
    });
  });
  return watcher;
}

describe('chaos: Redis killed while announcements are published, edited and expired', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  const gateways: GatewayProcess[] = [];
  const watchers: Watcher[] = [];
  const banners: Banners[] = [];

  async function showBanners(gateway: GatewayProcess, apiUrl: string): Promise<Banners> {
    const token = await mintToken(SECRET, { subject: `page${banners.length}`, ttlSeconds: 600 });
    const client = new MatchcastClient({ url: gateway.wsUrl, token: () => token, WebSocket: WebSocket as never, backoff: { baseMs: 100, maxMs: 500 } });
    const page: Banners = { client, stores: new Map(), applied: new Map(), states: [] };
    client.on('state', (state) => page.states.push(state));
    const targets: AnnouncementTarget[] = [{ target: 'everyone' }, { target: 'league', targetId: 'al' }, { target: 'team', targetId: 'at1' }];
    for (const target of targets) {
      const store = createAnnouncements(client, { baseUrl: apiUrl, ...target });
      store.on('change', ({ event }) => event && page.applied.set(store.stream, [...(page.applied.get(store.stream) ?? []), event.seq]));
      await store.ready;
      page.stores.set(store.stream, store);
    }
    client.connect();
    await waitFor('the client live', async () => (client.state === 'live' ? true : undefined), 10_000);
    return page;
  }

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league (id, name) VALUES ('al', 'Announcement League');
      INSERT INTO team (id, league_id, name) VALUES ('at1', 'al', 'Team One'), ('at2', 'al', 'Team Two')`);
    const db = { DATABASE_URL: infra.postgres.url };
    processes.push(new ServiceProcess('notify-listener', { ...db, REDIS_URL: infra.redis.url, LISTENER_PORT: String(await freePort()) }).start());
    for (const name of ['gateway-a', 'gateway-b']) {
      gateways.push(new GatewayProcess(await freePort(), await freePort(), { ...db, REDIS_URL: infra.redis.url, AUTH_JWT_SECRET: SECRET }, name).start());
    }
    const apiPort = await freePort();
    processes.push(new ServiceProcess('api', { ...db, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: '0', AUTH_JWT_SECRET: SECRET }, 'api-announcements-chaos').start());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitFor('the API', async () => ((await fetch(`${apiUrl}/api/announcements`).catch(() => undefined))?.ok ? true : undefined), 20_000);
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    await waitFor('gateways on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 20_000);
    // On each gateway: one socket per channel, and one on all three.
    for (const gateway of gateways) {
      for (const channels of [...STREAMS.map((s) => [s]), STREAMS]) {
        watchers.push(await watch(gateway.wsUrl, await mintToken(SECRET, { subject: `fan${watchers.length}` }), channels));
      }
      banners.push(await showBanners(gateway, apiUrl));
    }
  }, 120_000);

  afterAll(async () => {
    for (const watcher of watchers) watcher.socket.terminate();
    for (const page of banners) {
      for (const store of page.stores.values()) store.close();
      page.client.close();
    }
    await Promise.all([...gateways, ...processes].map((p) => p.stop()));
    await infra.destroy();
  }, 60_000);

  it("every socket gets exactly its streams' announcement events, in order, with no disconnect", async () => {
    const writes = (async () => {
      for (let n = 1; n <= ROUNDS; n++) {
        const [target, targetId] = TARGETS[n % TARGETS.length]!;
        const { rows } = await infra.db.query<{ outcome: string; announcement: { id: string } }>(
          `SELECT * FROM matchcast_create_announcement($1, 'message', 'general', 'normal', $2, $3, NULL, NULL, 'chaos')`,
          [`round ${n}`, target, targetId],
        );
        expect(rows[0]!.outcome).toBe('created');
        const id = rows[0]!.announcement.id;
        await infra.db.query(`SELECT * FROM matchcast_update_announcement($1, '{"priority": "high"}')`, [id]);
        // Every other one stays published (the next rounds edit it again); the rest are withdrawn.
        if (n % 2 === 0) await infra.db.query(`SELECT * FROM matchcast_expire_announcement($1)`, [id]);
        else await infra.db.query(`SELECT * FROM matchcast_update_announcement($1, '{"title": "edited"}')`, [id]);
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
    })();
    await waitFor('announcements under way', async () => {
      const { rows } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM announcement`);
      return (rows[0]?.n ?? 0) >= ROUNDS / 4 ? true : undefined;
    }, 30_000, 20);
    await infra.redis.kill();
    await waitFor('both gateways on their own LISTEN', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'postgres') ? true : undefined), 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await infra.redis.start();
    await writes;

    const { rows } = await infra.db.query<{ stream: string; seqs: number[] }>(
      `SELECT stream, array_agg(seq::int ORDER BY seq) AS seqs FROM outbox WHERE type LIKE 'announcement%' GROUP BY stream`,
    );
    const expected = new Map(rows.map((row) => [row.stream, row.seqs]));
    // Three messages per round, on its target's stream only.
    expect([...expected.keys()].sort()).toEqual([...STREAMS].sort());
    // (league:al's own stream also carries its league_table, so its announcement seqs need not start at 1.)
    for (const stream of STREAMS) expect(expected.get(stream)).toHaveLength(3 * (ROUNDS / TARGETS.length));

    const caughtUp = (w: Watcher) => w.channels.every((stream) => (w.received.get(stream)?.length ?? 0) >= expected.get(stream)!.length);
    await waitFor('every socket caught up', async () => (watchers.every(caughtUp) ? true : undefined), 60_000, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const watcher of watchers) {
      expect(watcher.closes).toBe(0);
      expect(Object.fromEntries(watcher.received)).toEqual(Object.fromEntries(watcher.channels.map((s) => [s, expected.get(s)])));
    }
    // The clients' banners: exactly the outbox's events applied, ending with the active ones.
    const { rows: active } = await infra.db.query<{ stream: string; ids: string[] }>(
      `SELECT CASE target WHEN 'everyone' THEN 'all' ELSE target || ':' || target_id END AS stream, array_agg(id::text ORDER BY id) AS ids
         FROM announcement WHERE state = 'published' GROUP BY 1`,
    );
    const activeIds = new Map(active.map((row) => [row.stream, row.ids]));
    await waitFor('every store caught up', async () =>
      banners.every((page) => STREAMS.every((stream) => page.stores.get(stream)!.seq === expected.get(stream)!.at(-1))) ? true : undefined, 30_000, 100);
    for (const page of banners) {
      expect(page.states.filter((state) => state !== 'live' && state !== 'connecting')).toEqual([]);
      expect(page.client.diagnostics).toMatchObject({ gaps: 0, duplicates: 0 });
      for (const stream of STREAMS) {
        expect(page.applied.get(stream)).toEqual(expected.get(stream));
        expect(page.stores.get(stream)!.items.map((a) => a.id).sort()).toEqual([...(activeIds.get(stream) ?? [])].sort());
        expect(page.stores.get(stream)!.items.every((a) => a.priority === 'high' && a.title === 'edited')).toBe(true);
      }
    }
    await waitFor('gateways back on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 30_000);
  }, 180_000);
});
