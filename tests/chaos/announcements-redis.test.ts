/**
 * Chaos, the announcement half: Redis dies while announcements are being published, edited and
 * expired (through the database functions the API calls, in a loop over three targets: everyone,
 * a league, a team). Each change appends one message to the target's stream (all, league:<id>,
 * team:<id>); redis-server is SIGKILLed in the middle and restarted. Every socket on those
 * channels, over two gateways, must end with exactly the outbox's announcement events per stream
 * — nothing lost, nothing doubled, in order — and no disconnect; the gateways fall back to their
 * own LISTEN and come back to Redis by themselves.
 */
import { mintToken } from '@matchcast/auth';
import WebSocket from 'ws';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'chaos-announcements-secret-of-32-bytes!';
const ROUNDS = 60;
const STREAMS = ['all', 'league:al', 'team:at1'];
const TARGETS: [string, string | null][] = [['everyone', null], ['league', 'al'], ['team', 'at1']];

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

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league (id, name) VALUES ('al', 'Announcement League');
      INSERT INTO team (id, league_id, name) VALUES ('at1', 'al', 'Team One'), ('at2', 'al', 'Team Two')`);
    const db = { DATABASE_URL: infra.postgres.url };
    processes.push(new ServiceProcess('notify-listener', { ...db, REDIS_URL: infra.redis.url, LISTENER_PORT: String(await freePort()) }).start());
    for (const name of ['gateway-a', 'gateway-b']) {
      gateways.push(new GatewayProcess(await freePort(), { ...db, REDIS_URL: infra.redis.url, AUTH_JWT_SECRET: SECRET }, name).start());
    }
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    await waitFor('gateways on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 20_000);
    // On each gateway: one socket per channel, and one on all three.
    for (const gateway of gateways) {
      for (const channels of [...STREAMS.map((s) => [s]), STREAMS]) {
        watchers.push(await watch(gateway.wsUrl, await mintToken(SECRET, { subject: `fan${watchers.length}` }), channels));
      }
    }
  }, 120_000);

  afterAll(async () => {
    for (const watcher of watchers) watcher.socket.terminate();
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
    await waitFor('gateways back on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 30_000);
  }, 180_000);
});
