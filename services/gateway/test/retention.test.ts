/**
 * The outbox pruner's "last prune" gauge (what the outbox-not-pruned alert reads), against a
 * real Postgres: set when this gateway finishes a round, left alone while another pruner holds
 * the lock.
 */
import { migrate } from '@matchcast/db';
import { createLogger } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createGatewayMetrics } from '../src/metrics';
import { startRetention } from '../src/retention';

const PRUNE_LOCK = 7_246_103; // packages/db/src/outbox.ts

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('outbox retention', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    pool = new pg.Pool({ connectionString: server.url, max: 3 });
    const client = await pool.connect();
    await migrate(client);
    client.release();
  });

  afterAll(async () => {
    await pool.end();
    await server.destroy();
  });

  async function gaugeValue(metrics: ReturnType<typeof createGatewayMetrics>): Promise<number> {
    return (await metrics.outboxPrunedAt.get()).values[0]?.value ?? 0;
  }

  it('leaves the gauge at 0 while another pruner holds the lock, and sets it once this gateway prunes', async () => {
    const metrics = createGatewayMetrics(new Registry());
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1)', [PRUNE_LOCK]);
    const stop = startRetention(pool, { intervalMs: 50, retentionMs: 3_600_000, keepPerStream: 100, prunedAt: metrics.outboxPrunedAt }, createLogger('gateway', 'silent'));
    try {
      await sleep(400);
      expect(await gaugeValue(metrics)).toBe(0);

      await holder.query('COMMIT');
      const released = Date.now() / 1000;
      const deadline = Date.now() + 5000;
      while ((await gaugeValue(metrics)) === 0 && Date.now() < deadline) await sleep(50);
      const prunedAt = await gaugeValue(metrics);
      expect(prunedAt).toBeGreaterThanOrEqual(Math.floor(released));
      expect(prunedAt).toBeLessThanOrEqual(Date.now() / 1000);
    } finally {
      stop();
      holder.release();
    }
  });
});
