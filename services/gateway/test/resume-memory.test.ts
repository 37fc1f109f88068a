import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TestClient, metricValue } from './support';

/** Kept per stream in memory here: a resume further back reads the rest from the outbox. */
const PER_STREAM = 5;
/** `since` reaches back this much further (the gateway's margin for long transactions). */
const SINCE_MARGIN_MS = 5000;

/**
 * Resume from memory: a real gateway and Postgres (LISTEN mode). Outbox reads are counted twice:
 * by the gateway's own metric and by Postgres itself (pg_stat_statements), so a read the metric
 * missed would still show.
 */
describe('resume from memory', () => {
  let server: PostgresServer;
  let db: pg.Client;
  let gateway: Gateway;
  let url: string;
  let base: string;

  beforeAll(async () => {
    server = await new PostgresServer({ settings: { shared_preload_libraries: 'pg_stat_statements' } }).start();
    db = new pg.Client(server.url);
    await db.connect();
    await migrate(db);
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now());
      INSERT INTO scoreboard (match_id) VALUES ('m1')`);
    const config = loadConfig(
      new EnvReader({
        DATABASE_URL: server.url,
        PORT: '0',
        OPS_PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        MEMORY_HISTORY_EVENTS_PER_STREAM: String(PER_STREAM),
        REPLAY_CONCURRENCY: '2',
      }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    url = `ws://127.0.0.1:${gateway.port}/ws`;
    base = `http://127.0.0.1:${gateway.opsPort}`;
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await server?.destroy();
  });

  /** Calls of the outbox read that replays use (and the rows it returned), as Postgres counted them. */
  const outboxStatements = async (): Promise<{ calls: number; rows: number }> => {
    const { rows } = await db.query<{ calls: string | null; rows: string | null }>(
      `SELECT sum(calls) AS calls, sum(rows) AS rows FROM pg_stat_statements
        WHERE query LIKE '%FROM outbox%ORDER BY seq%' OR query LIKE '%FROM outbox%GROUP BY stream%'`,
    );
    return { calls: Number(rows[0]?.calls ?? 0), rows: Number(rows[0]?.rows ?? 0) };
  };
  const source = (request: string, from: string) => metricValue(base, 'matchcast_gateway_resume_source_total', `request="${request}",source="${from}"`);
  const outboxReads = () => metricValue(base, 'matchcast_gateway_outbox_reads_total', 'query="stream"');
  const head = async (): Promise<number> => (await db.query(`SELECT last_seq::int AS seq FROM stream_counter WHERE stream = 'match:m1'`)).rows[0].seq;

  /** Commits `count` score changes of m1 and waits until a live client has them all: the gateway delivered them. */
  const write = async (count: number): Promise<number> => {
    const watcher = new TestClient(url);
    await watcher.opened();
    watcher.send({ action: 'subscribe', channels: ['match:m1'] });
    await watcher.next((m) => m.type === 'subscribed');
    for (let i = 0; i < count; i++) await db.query(`UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = 'm1'`);
    const last = await head();
    await watcher.next((m) => m.seq === last);
    watcher.ws.close();
    return last;
  };

  const resumed = async (resume: Record<string, number>, extra: Record<string, unknown> = {}): Promise<TestClient> => {
    const client = new TestClient(url);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['league:epl'], resume, ...extra });
    await client.next((m) => m.type === 'resumed');
    return client;
  };
  const seqsOf = (client: TestClient) => client.messages.filter((m) => m.stream === 'match:m1').map((m) => m.seq as number);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('serves a resume the memory covers without any outbox query, then goes live with no gap or duplicate', async () => {
    const last = await write(8);
    const [before, memoryBefore, readsBefore] = [await outboxStatements(), await source('replay', 'memory'), await outboxReads()];
    const client = await resumed({ 'match:m1': last - 3 });
    await db.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm1'`);
    await client.next((m) => m.seq === last + 1);
    expect(seqsOf(client)).toEqual(range(last - 2, last + 1));
    expect(await source('replay', 'memory')).toBe(memoryBefore + 1);
    expect(await outboxReads()).toBe(readsBefore);
    expect((await outboxStatements()).calls).toBe(before.calls);
    client.ws.close();
  });

  it('reads only the part memory does not hold from the outbox', async () => {
    const last = await write(PER_STREAM + 6);
    const before = await outboxStatements();
    const [outboxBefore, readsBefore] = [await source('replay', 'outbox'), await outboxReads()];
    const from = last - PER_STREAM - 4; // memory holds the last PER_STREAM; the 4 before come from the outbox
    const client = await resumed({ 'match:m1': from });
    expect(seqsOf(client)).toEqual(range(from + 1, last));
    const after = await outboxStatements();
    expect(after.calls - before.calls).toBe(1);
    expect(after.rows - before.rows).toBe(4);
    expect(await outboxReads()).toBe(readsBefore + 1);
    expect(await source('replay', 'outbox')).toBe(outboxBefore + 1);
    client.ws.close();
  });

  it('sends one outbox query for many clients resuming the same range at once', async () => {
    const last = await write(PER_STREAM + 10);
    const from = last - PER_STREAM - 8;
    const clients = 25;
    const before = await outboxStatements();
    const replaysBefore = await metricValue(base, 'matchcast_gateway_replays_total');
    // Hold the first read at the table until every client has asked for the same range.
    const blocker = new pg.Client(server.url);
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE');
    const sockets = await Promise.all(
      Array.from({ length: clients }, async () => {
        const client = new TestClient(url);
        await client.opened();
        client.send({ action: 'subscribe', channels: ['match:m1'], resume: { 'match:m1': from } });
        return client;
      }),
    );
    const deadline = Date.now() + 10_000;
    while ((await metricValue(base, 'matchcast_gateway_replays_total')) < replaysBefore + clients && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await blocker.query('COMMIT');
    await blocker.end();
    for (const client of sockets) {
      await client.next((m) => m.type === 'resumed');
      expect(seqsOf(client)).toEqual(range(from + 1, last));
      client.ws.close();
    }
    expect((await outboxStatements()).calls - before.calls).toBe(1);
  });

  it('answers `since` from memory: streams that began while the client was away, and their events', async () => {
    // `since` reaches back SINCE_MARGIN_MS before the client's timestamp: it must be after the gateway started.
    await new Promise((r) => setTimeout(r, SINCE_MARGIN_MS + 1500));
    const last = await write(1);
    const { rows } = await db.query(`SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM outbox WHERE stream = 'match:m1' AND seq = $1`, [last]);
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m2', 'epl', 'che', 'ars', now());
      INSERT INTO scoreboard (match_id, away_score) VALUES ('m2', 1)`);
    await write(1); // m2's events are delivered by now too (the same LISTEN, in commit order)
    const before = await outboxStatements();
    const [sinceMemory, sinceOutbox] = [await source('since', 'memory'), await source('since', 'outbox')];
    const client = await resumed({ 'match:m1': last }, { since: rows[0].at });
    expect(client.messages.filter((m) => m.stream === 'match:m2').map((m) => m.seq)).toEqual([1, 2]);
    expect(seqsOf(client)).toEqual([last + 1]);
    expect(await source('since', 'memory')).toBe(sinceMemory + 1);
    expect(await source('since', 'outbox')).toBe(sinceOutbox);
    expect((await outboxStatements()).calls).toBe(before.calls);
    client.ws.close();
  });

  it('goes to the outbox for a `since` further back than memory can tell, and answers the same', async () => {
    const before = await outboxStatements();
    const sinceOutbox = await source('since', 'outbox');
    const client = await resumed({}, { since: new Date(Date.now() - 3_600_000).toISOString() });
    expect(client.messages.filter((m) => m.stream === 'match:m2').map((m) => m.seq)).toEqual([1, 2]);
    expect(seqsOf(client)[0]).toBe(1);
    expect(await source('since', 'outbox')).toBe(sinceOutbox + 1);
    expect((await outboxStatements()).calls).toBeGreaterThan(before.calls);
    client.ws.close();
  });

  it('still answers RESUME_TOO_OLD when neither memory nor the outbox has the range', async () => {
    await db.query(`DELETE FROM outbox WHERE stream = 'match:m1' AND seq <= 3`);
    const client = await resumed({ 'match:m1': 1 });
    expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'RESUME_TOO_OLD', stream: 'match:m1' });
    expect(seqsOf(client)).toEqual([]);
    client.ws.close();
  });
});
