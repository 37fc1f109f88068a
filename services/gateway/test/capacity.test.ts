/**
 * The gateway's capacity knobs on a real socket and a real PostgreSQL: PG_POOL_MAX and
 * REPLAY_CONCURRENCY bound the main pool's and the client pool's connections (the figures
 * operators multiply by replicas), LISTEN_BACKLOG is the client port's accept queue as the
 * kernel reports it (`ss`: Send-Q of a listening socket).
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TestClient } from './support';

describe('gateway capacity settings', () => {
  let postgres: PostgresServer;
  let db: pg.Client;
  let gateway: Gateway;

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Client(postgres.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now())`);
    const config = loadConfig(
      new EnvReader({
        DATABASE_URL: postgres.url,
        PORT: '0',
        OPS_PORT: '0',
        HOST: '127.0.0.1',
        PG_POOL_MAX: '2',
        REPLAY_CONCURRENCY: '3',
        LISTEN_BACKLOG: '77',
        CANARY_INTERVAL_MS: '0',
        OUTBOX_PRUNE_INTERVAL_MS: '0',
      }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  it('REPLAY_CONCURRENCY, PG_POOL_MAX: a burst of REST requests grows the client pool to exactly that many connections, and the main pool is not theirs', async () => {
    const burst = await Promise.all(Array.from({ length: 60 }, () => fetch(`http://127.0.0.1:${gateway.port}/api/matches`)));
    expect(burst.map((res) => res.status).filter((status) => status !== 200)).toEqual([]);
    const connections = async (name: string) =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [name])).rows[0]!.n;
    expect(await connections('matchcast-gateway-replay')).toBe(3);
    expect(await connections('matchcast-gateway')).toBeLessThanOrEqual(2);
  });

  it('WS_MAX_CONNECTIONS: a burst of SSE requests, each waiting on a read before its stream opens, opens no more streams than that', async () => {
    const small = await startGateway(
      loadConfig(new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', WS_MAX_CONNECTIONS: '5', CANARY_INTERVAL_MS: '0', OUTBOX_PRUNE_INTERVAL_MS: '0' })),
      createLogger('gateway', 'silent'),
    );
    const streams: Response[] = [];
    try {
      // Each names a match not read yet: its league is read before the 200.
      const burst = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetch(`http://127.0.0.1:${small.port}/sse?channels=match:burst-${i}`, { signal: AbortSignal.timeout(10_000) })),
      );
      streams.push(...burst.filter((res) => res.status === 200));
      const statuses = burst.map((res) => res.status).sort();
      expect(statuses).toEqual([...Array<number>(5).fill(200), ...Array<number>(15).fill(503)]);
      expect(small.registry.size).toBe(5);
      const refused = burst.find((res) => res.status === 503)!;
      expect(await refused.json()).toMatchObject({ error: 'SERVER_FULL' });
    } finally {
      for (const res of streams) await res.body?.cancel();
      await small.close();
    }
  });

  it('WS_MAX_CONNECTIONS: a connection refused or abandoned between the door and its open stream gives its place back', async () => {
    const small = await startGateway(
      loadConfig(new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', WS_MAX_CONNECTIONS: '2', CANARY_INTERVAL_MS: '0', OUTBOX_PRUNE_INTERVAL_MS: '0' })),
      createLogger('gateway', 'silent'),
    );
    const base = `http://127.0.0.1:${small.port}`;
    const raw = (request: string, waitMs: number) =>
      new Promise<void>((resolve) => {
        const socket = connect(small.port, '127.0.0.1', () => socket.write(request));
        socket.on('data', () => undefined);
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        setTimeout(() => (socket.destroy(), resolve()), waitMs);
      });
    const streams: Response[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        // Refused after admission: another user's channel, a repeated parameter, a bad resume.
        expect((await fetch(`${base}/sse?channels=user:someone`)).status).toBe(403);
        expect((await fetch(`${base}/sse?channels=m1&since=a&since=b`)).status).toBe(400);
        expect((await fetch(`${base}/sse?channels=match:m1&resume=[1]`)).status).toBe(400);
        expect((await fetch(`${base}/sse?channels=match:m1`, { method: 'HEAD' })).status).toBe(200);
        // Left while its channels were read; a WebSocket handshake refused, one abandoned.
        const leaving = new AbortController();
        const left = fetch(`${base}/sse?channels=match:gone-${round}`, { signal: leaving.signal }).catch(() => undefined);
        leaving.abort();
        await left;
        await raw('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n', 2000);
        await raw('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 50);
      }
      await waitFor('every refused or abandoned request gone', async () => (small.registry.size === 0 ? true : undefined), 10_000, 50).catch(() => undefined);
      expect(small.registry.size).toBe(0);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${base}/sse?channels=match:m1`);
        streams.push(res);
        expect(res.status).toBe(200);
      }
      expect((await fetch(`${base}/sse?channels=match:m1`)).status).toBe(503);
    } finally {
      for (const res of streams) await res.body?.cancel();
      await small.close();
    }
  });

  /** A gateway with one slot for client reads, behind one trusted proxy (X-Forwarded-For names the client): what waits for it waits in turns. */
  const oneSlotGateway = (env: Record<string, string> = {}) =>
    startGateway(
      loadConfig(
        new EnvReader({
          DATABASE_URL: postgres.url,
          PORT: '0',
          OPS_PORT: '0',
          HOST: '127.0.0.1',
          REPLAY_CONCURRENCY: '1',
          TRUSTED_PROXY_HOPS: '1',
          CANARY_INTERVAL_MS: '0',
          OUTBOX_PRUNE_INTERVAL_MS: '0',
          ...env,
        }),
      ),
      createLogger('gateway', 'silent'),
    );

  it('REPLAY_CONCURRENCY: waiting reads take turns by client address, so a flood from one address does not hold another\'s read behind it', async () => {
    const fair = await oneSlotGateway();
    const lock = new pg.Client(postgres.url);
    await lock.connect();
    try {
      const matches = (address: string) => fetch(`http://127.0.0.1:${fair.port}/api/matches`, { headers: { 'x-forwarded-for': address } });
      const answered: string[] = [];
      // The match table locked: the first read waits on the lock in the one slot, the rest queue for it.
      await lock.query('BEGIN; LOCK TABLE match IN ACCESS EXCLUSIVE MODE');
      const flood = Array.from({ length: 150 }, () => matches('198.51.100.7').then((res) => (answered.push('flood'), res)));
      await new Promise((r) => setTimeout(r, 500));
      const bystander = matches('203.0.113.9').then((res) => (answered.push('bystander'), res));
      await new Promise((r) => setTimeout(r, 300));
      await lock.query('COMMIT');
      const statuses = (await Promise.all([...flood, bystander])).map((res) => res.status);
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      // In a queue of arrival it was answered last; in turns, within the first few.
      expect(answered.indexOf('bystander')).toBeLessThan(5);
    } finally {
      await lock.end();
      await fair.close();
    }
  });

  it('REPLAY_CONCURRENCY: a replay read shared with another address\'s client runs in that address\'s turn too, not only in the turns of the address that queued it', async () => {
    // Replays read the outbox (memory would answer them without a slot).
    const fair = await oneSlotGateway({ MEMORY_HISTORY_EVENTS_PER_STREAM: '0' });
    const wsUrl = `ws://127.0.0.1:${fair.port}/ws`;
    const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
    const lock = new pg.Client(postgres.url);
    await lock.connect();
    const clients: TestClient[] = [];
    const subscriber = async (address: string, resume?: Record<string, number>) => {
      const client = new TestClient(wsUrl, from(address));
      clients.push(client);
      await client.opened();
      client.send({ action: 'subscribe', channels: ['match:shared'], ...(resume ? { resume } : {}) });
      return client;
    };
    try {
      await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('shared', 'l', 'a', 'b', now())`);
      // The stream has events this gateway delivered (so a resume replays them from the outbox).
      const watcher = await subscriber('192.0.2.50');
      await watcher.next((m) => m.type === 'subscribed');
      for (const home of [1, 2, 3]) await db.query(`INSERT INTO scoreboard (match_id, home_score) VALUES ('shared', $1) ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score`, [home]);
      const last = await watcher.next((m) => m.type === 'match_update' && m.data.score.home === 3);
      const resume = { 'match:shared': last.seq - 3 };
      const matches = (address: string) => fetch(`http://127.0.0.1:${fair.port}/api/matches`, from(address));
      const answered: string[] = [];
      // The match table locked: the first read waits on the lock in the one slot, the rest queue for it.
      await lock.query('BEGIN; LOCK TABLE match IN ACCESS EXCLUSIVE MODE');
      const flood = [matches('198.51.100.7')];
      await new Promise((r) => setTimeout(r, 300));
      flood.push(...Array.from({ length: 100 }, () => matches('198.51.100.7')));
      for (const request of flood) void request.then(() => answered.push('flood'));
      await new Promise((r) => setTimeout(r, 500));
      // The flooding address queues the stream's read behind its own requests, and a client of another address joins it.
      await subscriber('198.51.100.7', resume);
      await new Promise((r) => setTimeout(r, 300));
      const bystander = await subscriber('203.0.113.9', resume);
      const replayed = new Promise<void>((resolve) =>
        bystander.ws.on('message', (data) => {
          if (JSON.parse(String(data)).type !== 'match_update' || answered.includes('bystander')) return;
          answered.push('bystander');
          resolve();
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      await lock.query('COMMIT');
      await replayed;
      expect((await Promise.all(flood)).map((res) => res.status).filter((status) => status !== 200)).toEqual([]);
      // In the turns of the flooding address it came after its hundred requests; in its own, within the first few.
      expect(answered.indexOf('bystander')).toBeLessThan(5);
    } finally {
      for (const client of clients) client.ws.close();
      await lock.end();
      await fair.close();
    }
  });

  it('LISTEN_BACKLOG: the client port listens with that accept queue', () => {
    const line = execFileSync('ss', ['-ltnH', `sport = :${gateway.port}`], { encoding: 'utf8' }).trim();
    // State Recv-Q Send-Q Local:Port Peer:Port; for a listening socket Send-Q is the backlog.
    expect(line.split(/\s+/)[2]).toBe('77');
  });
});
