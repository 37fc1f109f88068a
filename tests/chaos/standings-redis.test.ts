/**
 * Chaos, the competition half: Redis dies while league tables are being published. Results keep
 * coming in (matches finished, scores corrected), each commit recomputing the league table and
 * appending one league_table to league:<id>; redis-server is SIGKILLed in the middle and
 * restarted. Every socket on league:<id>, over two gateways, must end with exactly the outbox's
 * league_table events — nothing lost, nothing doubled, in order — and no disconnect.
 */
import { mintToken } from '@matchcast/auth';
import WebSocket from 'ws';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'chaos-standings-secret-of-32-bytes!!!';
const TEAMS = 8;
const RESULTS = 40;

interface Watcher {
  socket: WebSocket;
  /** league_table seqs received, in arrival order */
  tables: number[];
  closes: number;
}

async function watch(url: string, token: string): Promise<Watcher> {
  const watcher: Watcher = { socket: new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }), tables: [], closes: 0 };
  watcher.socket.on('close', () => watcher.closes++);
  await new Promise<void>((resolve, reject) => {
    watcher.socket.once('error', reject);
    watcher.socket.once('open', () => watcher.socket.send(JSON.stringify({ action: 'subscribe', channels: ['league:sl'] })));
    watcher.socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; stream?: string; seq?: number; code?: string };
      if (message.type === 'subscribed') resolve();
      else if (message.type === 'error') reject(new Error(`refused: ${message.code}`));
      else if (message.type === 'league_table' && message.stream === 'league:sl' && typeof message.seq === 'number') watcher.tables.push(message.seq);
    });
  });
  return watcher;
}

describe('chaos: Redis killed while league tables are published', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  const gateways: GatewayProcess[] = [];
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league (id, name, country) VALUES ('sl', 'Standings League', 'XX')`);
    await infra.db.query(
      `INSERT INTO team (id, league_id, name) SELECT 'st' || i, 'sl', 'Team ' || i FROM generate_series(1, ${TEAMS}) i`,
    );
    // RESULTS fixtures between pairs of teams (home i, away i+1).
    await infra.db.query(
      `INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at)
       SELECT 'sm' || n, 'sl', 'st' || (n % ${TEAMS} + 1), 'st' || ((n + 1) % ${TEAMS} + 1), now() FROM generate_series(1, ${RESULTS}) n`,
    );

    const db = { DATABASE_URL: infra.postgres.url };
    processes.push(new ServiceProcess('notify-listener', { ...db, REDIS_URL: infra.redis.url, LISTENER_PORT: String(await freePort()) }).start());
    for (const name of ['gateway-a', 'gateway-b']) {
      gateways.push(new GatewayProcess(await freePort(), await freePort(), { ...db, REDIS_URL: infra.redis.url, AUTH_JWT_SECRET: SECRET }, name).start());
    }
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    await waitFor('gateways on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 20_000);
    for (let i = 0; i < 6; i++) {
      watchers.push(await watch(gateways[i % 2]!.wsUrl, await mintToken(SECRET, { subject: `fan${i}` })));
    }
  }, 120_000);

  afterAll(async () => {
    for (const watcher of watchers) watcher.socket.terminate();
    await Promise.all([...gateways, ...processes].map((p) => p.stop()));
    await infra.destroy();
  }, 60_000);

  it("every socket gets exactly the league stream's tables, in order, with no disconnect", async () => {
    const { rows: before } = await infra.db.query<{ s: number }>(`SELECT last_seq::int AS s FROM stream_counter WHERE stream = 'league:sl'`);
    const start = before[0]?.s ?? 0;
    const results = (async () => {
      for (let n = 1; n <= RESULTS; n++) {
        // A result: a finished match; every fourth one also gets its score corrected afterwards.
        await infra.db.query(`BEGIN; INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('sm${n}', ${n % 4}, ${n % 3});
                              UPDATE match SET status = 'finished' WHERE id = 'sm${n}'; COMMIT`);
        if (n % 4 === 0) await infra.db.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'sm${n}'`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await waitFor('results under way', async () => {
      const { rows } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM match WHERE status = 'finished'`);
      return (rows[0]?.n ?? 0) >= RESULTS / 4 ? true : undefined;
    }, 30_000, 20);
    await infra.redis.kill();
    await waitFor('both gateways on their own LISTEN', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'postgres') ? true : undefined), 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await infra.redis.start();
    await results;

    const { rows } = await infra.db.query<{ seqs: number[] }>(
      `SELECT array_agg(seq::int ORDER BY seq) AS seqs FROM outbox WHERE stream = 'league:sl' AND seq > $1`,
      [start],
    );
    const expected = rows[0]!.seqs;
    // One table per result and per correction (each changes the table).
    expect(expected).toEqual(Array.from({ length: RESULTS + RESULTS / 4 }, (_, i) => start + i + 1));
    await waitFor('every socket caught up', async () => (watchers.every((w) => w.tables.length >= expected.length) ? true : undefined), 60_000, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const watcher of watchers) {
      expect(watcher.closes).toBe(0);
      expect(watcher.tables).toEqual(expected);
    }
    await waitFor('gateways back on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 30_000);
  }, 180_000);
});
