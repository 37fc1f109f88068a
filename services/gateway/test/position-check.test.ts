/**
 * The position check, against a real gateway on its own LISTEN: an event committed to the outbox
 * whose notification never reached the gateway, and which no later event reveals (a stream's last
 * event), is read from the outbox by the next check and delivered once, on a match stream and on
 * a followed user stream; events that arrive as usual are never counted as lost.
 */
import { EnvReader, createLogger } from '@matchcast/runtime';
import { deliveringThrough } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, databaseWithCrawlerLogin, metricValue, token } from './support';

const RECOVERIES = 'matchcast_gateway_position_check_recoveries_total';

/** Commits an event as the outbox code does, without its NOTIFY: a notification lost on the way, for whatever reason. */
async function appendUnnotified(db: pg.Pool, stream: string, type: string, matchId: string | null, data: unknown): Promise<number> {
  const { rows } = await db.query<{ seq: string }>(
    `WITH counter AS (
       INSERT INTO stream_counter AS c (stream, last_seq, updated_at) VALUES ($1, 1, clock_timestamp())
       ON CONFLICT (stream) DO UPDATE SET last_seq = c.last_seq + 1, updated_at = clock_timestamp()
       RETURNING last_seq)
     INSERT INTO outbox (stream, seq, source, type, match_id, data) SELECT $1, last_seq, 'scoreboard', $2, $3, $4 FROM counter RETURNING seq`,
    [stream, type, matchId, JSON.stringify(data)],
  );
  return Number(rows[0]!.seq);
}

describe('the position check', () => {
  let database: Awaited<ReturnType<typeof databaseWithCrawlerLogin>>;
  let gateway: Gateway;
  let ops: string;

  beforeAll(async () => {
    database = await databaseWithCrawlerLogin();
    gateway = await startGateway(
      loadConfig(
        new EnvReader({
          DATABASE_URL: database.postgres.url,
          PORT: '0',
          OPS_PORT: '0',
          HOST: '127.0.0.1',
          AUTH_JWT_SECRET: TEST_SECRET,
          CANARY_INTERVAL_MS: '0',
          POSITION_CHECK_INTERVAL_MS: '1000',
        }),
      ),
      createLogger('gateway', 'silent'),
    );
    ops = `http://127.0.0.1:${gateway.opsPort}`;
    // The first test's goals must come live: before its LISTEN exists they come by a catch-up or a (counted) position check.
    await deliveringThrough(ops, 'postgres');
  });

  afterAll(async () => {
    await gateway?.close();
    await database?.end();
  });

  it('never counts events that arrive as usual, however many', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    // Goals for 3.5 s: three checks run while events keep coming.
    for (let goal = 1; goal <= 35; goal++) {
      await database.crawlerRole.query(`UPDATE scoreboard SET home_score = $1 WHERE match_id = 'm1'`, [goal]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.next((m) => m.stream === 'match:m1' && m.data.score?.home === 35);
    expect(await metricValue(ops, RECOVERIES)).toBe(0);
    const scores = client.messages.filter((m) => m.stream === 'match:m1').map((m) => m.data.score.home);
    expect(scores).toEqual(Array.from({ length: 35 }, (_, i) => i + 1));
    client.ws.close();
  });

  it('delivers a match stream\'s last event that no notification carried, once, and counts it', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    const before = await metricValue(ops, RECOVERIES);

    const seq = await appendUnnotified(database.db, 'match:m1', 'match_update', 'm1', { score: { home: 90, away: 0 } });
    const event = await client.next((m) => m.stream === 'match:m1' && m.seq === seq, 10_000);
    expect(event.data.score).toEqual({ home: 90, away: 0 });
    expect(await metricValue(ops, RECOVERIES)).toBe(before + 1);
    // Once: a later check finds nothing behind.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(client.messages.filter((m) => m.stream === 'match:m1').map((m) => m.seq)).toEqual([seq]);
    expect(await metricValue(ops, RECOVERIES)).toBe(before + 1);
    client.ws.close();
  });

  it('delivers a followed user stream\'s lost notification to its user only, and reads no user stream nobody here follows', async () => {
    const alice = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token('alice', 600)}`);
    const bob = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token('bob', 600)}`);
    await Promise.all([alice.opened(), bob.opened()]);
    alice.send({ action: 'subscribe', channels: ['user:alice'] });
    bob.send({ action: 'subscribe', channels: ['user:bob'] });
    await Promise.all([alice.next((m) => m.type === 'subscribed'), bob.next((m) => m.type === 'subscribed')]);
    const before = await metricValue(ops, RECOVERIES);

    const notification = { id: '1', user_id: 'alice', kind: 'system', title: 'Lost on the way', body: null, link: null, read: false, created_at: new Date().toISOString() };
    const seq = await appendUnnotified(database.db, 'user:alice', 'notification', null, notification);
    await appendUnnotified(database.db, 'user:carol', 'notification', null, { ...notification, user_id: 'carol' });
    const event = await alice.next((m) => m.stream === 'user:alice' && m.seq === seq, 10_000);
    expect(event.data.title).toBe('Lost on the way');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // carol's stream is followed by no client here: not read, not counted.
    expect(await metricValue(ops, RECOVERIES)).toBe(before + 1);
    expect(bob.messages.filter((m) => m.stream !== undefined)).toEqual([]);
    alice.ws.close();
    bob.ws.close();
  });
});
