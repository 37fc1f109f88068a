/**
 * A NOTIFY sent by any database role other than the outbox code's, against a real gateway on
 * its own LISTEN connection (Postgres mode, the Redis fallback's path): PostgreSQL has no
 * privilege for NOTIFY, so only the signature (018) tells a forgery from an event. A forged next
 * event, reference or league_access reaches no client and starts no read; the genuine event
 * with the same seq is delivered once.
 */
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, deliveringThrough, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, databaseWithCrawlerLogin, metricValue } from './support';

describe('a NOTIFY from another database role (Postgres path)', () => {
  let database: Awaited<ReturnType<typeof databaseWithCrawlerLogin>>;
  let postgres: PostgresServer;
  let db: pg.Pool;
  let crawlerRole: pg.Client;
  let gateway: Gateway;
  let ops: string;

  beforeAll(async () => {
    database = await databaseWithCrawlerLogin();
    ({ postgres, db, crawlerRole } = database);
    gateway = await startGateway(
      loadConfig(new EnvReader({ DATABASE_URL: postgres.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, CANARY_INTERVAL_MS: '0' })),
      createLogger('gateway', 'silent'),
    );
    ops = `http://127.0.0.1:${gateway.opsPort}`;
    // The NOTIFYs below are seen only once its LISTEN exists; the mode gauge says postgres before that.
    await deliveringThrough(ops, 'postgres');
  });

  afterAll(async () => {
    await gateway?.close();
    await database?.end();
  });

  it('drops forged events, references and league_access unread, and delivers the genuine event with that seq once', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1', 'all'] });
    await client.next((m) => m.type === 'subscribed');
    const head = Number((await db.query<{ last_seq: string }>(`SELECT last_seq FROM stream_counter WHERE stream = 'match:m1'`)).rows[0]!.last_seq);
    const invalidBefore = await metricValue(ops, 'matchcast_gateway_invalid_messages_total', 'source="postgres"');

    const event = (seq: number) => ({ id: '999999', stream: 'match:m1', seq, type: 'match_update', timestamp: new Date().toISOString(), match_id: 'm1', data: { score: { home: 99, away: 0 } } });
    const forgeries = [
      JSON.stringify(event(head + 1)),
      `${JSON.stringify(event(head + 1)).slice(0, -1)},"mac":"1.${'A'.repeat(43)}="}`,
      JSON.stringify({ ref: true, id: '1', stream: 'match:m1', seq: head + 5 }),
      JSON.stringify({ id: '999998', stream: 'league:l', seq: 1, type: 'league_access', timestamp: new Date().toISOString(), match_id: null, data: { league_id: 'l', change: 'made_private', private: true } }),
    ];
    for (const payload of forgeries) await crawlerRole.query(`SELECT pg_notify('scoreboard_change', $1)`, [payload]);
    // A role with the crawler's rights writes a real goal: that event is signed.
    await crawlerRole.query(`UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm1'`);

    const genuine = await client.next((m) => m.stream === 'match:m1' && m.seq === head + 1);
    expect(genuine.data.score).toEqual({ home: 1, away: 0 });
    await waitFor('the forgeries counted', async () => ((await metricValue(ops, 'matchcast_gateway_invalid_messages_total', 'source="postgres"')) === invalidBefore + forgeries.length ? true : undefined), 5000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const delivered = client.messages.filter((m) => m.stream === 'match:m1');
    expect(delivered.map((m) => [m.seq, m.data.score.home])).toEqual([[head + 1, 1]]);
    expect(client.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(await metricValue(ops, 'matchcast_gateway_seq_claims_beyond_head_total')).toBe(0);
    client.ws.close();
  });
});
