/**
 * Chaos, the user half: Redis dies in the middle of a notification burst. A team has 1,500
 * followers; goals keep going in, so the notifier writes thousands of notifications onto the
 * followers' user:<id> streams while redis-server is SIGKILLed and restarted. Every socket —
 * users on their own stream, and an admin watching hundreds of streams over two gateways — must
 * end with exactly the outbox's events of its streams: nothing lost, nothing doubled, in order,
 * and without a single disconnect.
 */
import { mintToken } from '@matchcast/auth';
import WebSocket from 'ws';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'chaos-notification-secret-of-32-bytes!';
const FOLLOWERS = 1500;
const GOALS = 12;
const ADMIN_STREAMS = 500;

interface Watcher {
  socket: WebSocket;
  /** seqs received per stream, in arrival order */
  received: Map<string, number[]>;
  closes: number;
}

async function watch(url: string, token: string, channels: string[]): Promise<Watcher> {
  const watcher: Watcher = { socket: new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }), received: new Map(), closes: 0 };
  watcher.socket.on('close', () => watcher.closes++);
  await new Promise<void>((resolve, reject) => {
    watcher.socket.once('error', reject);
    watcher.socket.once('open', () => watcher.socket.send(JSON.stringify({ action: 'subscribe', channels })));
    watcher.socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; stream?: string; seq?: number; code?: string };
      if (message.type === 'subscribed') resolve();
      else if (message.type === 'error') reject(new Error(`refused: ${message.code}`));
      else if (message.stream?.startsWith('user:') && typeof message.seq === 'number') {
        const seqs = watcher.received.get(message.stream) ?? [];
        seqs.push(message.seq);
        watcher.received.set(message.stream, seqs);
      }
    });
  });
  return watcher;
}

describe('chaos: Redis killed during a notification burst', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  const gateways: GatewayProcess[] = [];
  const watchers: Watcher[] = [];
  const users = Array.from({ length: FOLLOWERS }, (_, i) => `fan${i}`);

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league (id, name, country) VALUES ('cl', 'Chaos League', 'XX')`);
    await infra.db.query(`INSERT INTO team (id, league_id, name, short_name) VALUES ('ch', 'cl', 'Home FC', 'HOM'), ('ca', 'cl', 'Away FC', 'AWA')`);
    await infra.db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('cm', 'cl', 'ch', 'ca', now(), 'live')`);
    await infra.db.query(`INSERT INTO scoreboard (match_id) VALUES ('cm')`);
    await infra.db.query(`INSERT INTO follow (user_id, kind, target_id) SELECT unnest($1::text[]), 'team', 'ch'`, [users]);

    const db = { DATABASE_URL: infra.postgres.url };
    processes.push(new ServiceProcess('notify-listener', { ...db, REDIS_URL: infra.redis.url, LISTENER_PORT: String(await freePort()) }).start());
    processes.push(new ServiceProcess('notifier', { ...db, OPS_PORT: String(await freePort()), NOTIFIER_BATCH_SIZE: '250' }).start());
    for (const name of ['gateway-a', 'gateway-b']) {
      const gateway = new GatewayProcess(await freePort(), await freePort(), {
        ...db,
        REDIS_URL: infra.redis.url,
        AUTH_JWT_SECRET: SECRET,
        WS_MAX_CHANNELS: String(ADMIN_STREAMS),
        WS_MAX_PAYLOAD_BYTES: '65536',
      }, name).start();
      gateways.push(gateway);
    }
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    await waitFor('gateways on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 20_000);

    // 100 users on their own stream (half on each gateway), and an admin on each gateway watching 500 streams.
    for (const [i, user] of users.slice(0, 100).entries()) {
      const token = await mintToken(SECRET, { subject: user });
      watchers.push(await watch(gateways[i % 2]!.wsUrl, token, [`user:${user}`]));
    }
    const admin = await mintToken(SECRET, { subject: 'ops', roles: ['admin'] });
    watchers.push(await watch(gateways[0]!.wsUrl, admin, users.slice(0, ADMIN_STREAMS).map((u) => `user:${u}`)));
    watchers.push(await watch(gateways[1]!.wsUrl, admin, users.slice(FOLLOWERS - ADMIN_STREAMS).map((u) => `user:${u}`)));
  }, 120_000);

  afterAll(async () => {
    for (const watcher of watchers) watcher.socket.terminate();
    await Promise.all([...gateways, ...processes].map((p) => p.stop()));
    await infra.destroy();
  }, 60_000);

  it('every socket gets exactly its streams\' outbox events, with no disconnect', async () => {
    const goals = (async () => {
      for (let goal = 1; goal <= GOALS; goal++) {
        await infra.db.query('BEGIN');
        await infra.db.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ('cm', $1, 'goal', 'home', 'Striker')`, [goal * 5]);
        await infra.db.query(`UPDATE scoreboard SET home_score = $1 WHERE match_id = 'cm'`, [goal]);
        await infra.db.query('COMMIT');
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    })();
    // Into the burst: the notifier is writing thousands of notifications when Redis dies.
    await waitFor('the burst under way', async () => {
      const { rows } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification`);
      return (rows[0]?.n ?? 0) >= 1000 ? true : undefined;
    }, 30_000, 20);
    await infra.redis.kill();
    await waitFor('both gateways on their own LISTEN', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'postgres') ? true : undefined), 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await infra.redis.start();
    await goals;

    // The notifier has written one notification per follower per goal.
    await waitFor('all notifications written', async () => {
      const { rows } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification`);
      return rows[0]?.n === FOLLOWERS * GOALS ? true : undefined;
    }, 90_000, 200);
    const { rows } = await infra.db.query<{ stream: string; seqs: number[] }>(
      `SELECT stream, array_agg(seq::int ORDER BY seq) AS seqs FROM outbox WHERE stream LIKE 'user:%' GROUP BY stream`,
    );
    const expected = new Map(rows.map((row) => [row.stream, row.seqs]));
    expect(expected.size).toBe(FOLLOWERS);
    for (const seqs of expected.values()) expect(seqs).toEqual(Array.from({ length: GOALS }, (_, i) => i + 1));

    // Every watcher's every stream, exactly.
    await waitFor('every socket caught up', async () => {
      for (const watcher of watchers) {
        for (const stream of watcher.received.keys()) if ((watcher.received.get(stream)?.length ?? 0) < GOALS) return undefined;
      }
      const streams = watchers.reduce((n, w) => n + w.received.size, 0);
      return streams === 100 + 2 * ADMIN_STREAMS ? true : undefined;
    }, 60_000, 200).catch((error: Error) => {
      // Say which sockets and streams fell short, and by what, before failing.
      const short = watchers.flatMap((watcher, i) =>
        [...expected.keys()]
          .filter((stream) => watcher.received.has(stream) && (watcher.received.get(stream)?.length ?? 0) < GOALS)
          .map((stream) => `watcher ${i} ${stream}: ${JSON.stringify(watcher.received.get(stream))}`),
      );
      const counts = watchers.map((watcher, i) => `watcher ${i}: ${watcher.received.size} streams, closes ${watcher.closes}`);
      throw new Error(`${error.message}\n${counts.join('\n')}\n${short.slice(0, 20).join('\n')}`);
    });
    for (const watcher of watchers) {
      expect(watcher.closes).toBe(0);
      for (const [stream, seqs] of watcher.received) expect(seqs).toEqual(expected.get(stream));
    }
    // And they switch back by themselves.
    await waitFor('gateways back on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 30_000);
  }, 180_000);
});
