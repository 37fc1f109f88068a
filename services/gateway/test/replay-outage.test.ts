/**
 * A replay whose outbox read fails part-way (its database connection ends: a failover, a
 * crashed backend) while live events of the stream arrive. The live events waiting behind the
 * replay come after a gap; delivered, they moved the client's position past it (its seq, and an
 * SSE position token), so the reconnect that UNAVAILABLE asks for resumed after the gap and
 * the events in it were never delivered. Now the connection ends without them, and the
 * reconnect resumes from the last event the client had.
 */
import { execFileSync } from 'node:child_process';
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { SseStream } from './sse-support';
import { TEST_SECRET, TestClient } from './support';

describe('a replay that fails part-way', () => {
  let postgres: PostgresServer;
  let db: pg.Client;
  let gateway: Gateway;

  const score = (match: string) => db.query(`UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = $1`, [match]);
  const head = async (stream: string) => (await db.query<{ seq: number }>('SELECT coalesce(max(seq), 0)::int AS seq FROM outbox WHERE stream = $1', [stream])).rows[0]!.seq;

  /**
   * The replay pool's one backend, stopped (SIGSTOP): a read sent to it waits until it is let go.
   * A replay first, so that the pool has its connection (and m1's league is known: no read for it).
   */
  async function stopReplayBackend(): Promise<number> {
    const warm = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await warm.opened();
    warm.send({ action: 'subscribe', channels: ['match:m1', 'match:m2'], resume: { 'match:m2': 3 } });
    await warm.next((m) => m.type === 'resumed', 15_000);
    warm.ws.close();
    const pid = await waitFor('the replay connection', async () => {
      const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'matchcast-gateway-replay'`);
      return rows[0]?.pid;
    });
    execFileSync('kill', ['-STOP', String(pid)]);
    return pid;
  }

  /** Ends the stopped backend as a failover would: its read fails with an error (57P01), the connection closes. */
  async function failReplayBackend(pid: number): Promise<void> {
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    execFileSync('kill', ['-CONT', String(pid)]);
  }

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Client(postgres.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League'); INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('m1', 'l', 'a', 'b', now(), 'live'), ('m2', 'l', 'a', 'b', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('m1'), ('m2')`);
    for (let i = 0; i < 5; i++) await score('m1');
    for (let i = 0; i < 5; i++) await score('m2');
    const config = loadConfig(
      new EnvReader({
        DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent',
        // Every replay reads the outbox, on one connection.
        MEMORY_HISTORY_EVENTS_PER_STREAM: '0', REPLAY_CONCURRENCY: '1',
      }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  it('WebSocket: nothing after the gap is delivered; the connection ends with 1013 UNAVAILABLE and a resume from the last seq had gets everything', async () => {
    const start = await head('match:m1');
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    const pid = await stopReplayBackend();
    client.send({ action: 'subscribe', channels: ['match:m1'], resume: { 'match:m1': 0 } });
    await client.next((m) => m.type === 'subscribed');
    // Live events while the replay waits: they wait behind it.
    await score('m1');
    await score('m1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await failReplayBackend(pid);
    expect(await client.next((m) => m.type === 'error', 15_000)).toMatchObject({ code: 'UNAVAILABLE' });
    // Nothing past the gap: a client that applies what it gets and resumes from its last seq loses nothing.
    const had = client.messages.filter((m) => m.stream === 'match:m1').map((m) => m.seq as number);
    expect(had).toEqual([]);
    expect((await client.closed).code).toBe(1013);
    const again = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await again.opened();
    again.send({ action: 'subscribe', channels: ['match:m1'], resume: { 'match:m1': 0 } });
    await again.next((m) => m.type === 'resumed', 15_000);
    expect(again.messages.filter((m) => m.stream === 'match:m1').map((m) => m.seq)).toEqual(Array.from({ length: start + 2 }, (_, i) => i + 1));
    again.ws.close();
  });

  it('SSE: the stream ends with UNAVAILABLE, and its position token has nothing past the gap', async () => {
    const start = await head('match:m1');
    const base = `http://127.0.0.1:${gateway.port}`;
    const pid = await stopReplayBackend();
    const stream = new SseStream(`${base}/sse?channels=match:m1&resume=${encodeURIComponent('{"match:m1":0}')}`);
    await stream.next((e) => e.json?.type === 'subscribed');
    await score('m1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await failReplayBackend(pid);
    await stream.next((e) => e.json?.type === 'error', 15_000);
    await stream.done;
    expect(stream.events.find((e) => e.json?.type === 'error')?.json).toMatchObject({ code: 'UNAVAILABLE' });
    expect(stream.streamEvents.filter((e) => e.type !== 'error')).toEqual([]);
    // The browser's reconnect with the last id gets every event, from the start it asked for.
    const again = new SseStream(`${base}/sse?channels=match:m1`, { 'Last-Event-ID': stream.lastEventId });
    await again.next((e) => e.json?.type === 'resumed', 15_000);
    expect(again.streamEvents.map((e) => e.seq)).toEqual(Array.from({ length: start + 1 }, (_, i) => i + 1));
    again.close();
  });
});
