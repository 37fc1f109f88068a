/**
 * The cursor, poll by poll (the worker driven by hand, no timing): rows are taken in
 * (txid, id) order below the horizon, so a row that becomes visible late is never behind the
 * cursor — even when a poll stopped at its row limit in the middle of a range.
 */
import pg from 'pg';
import { createNotifierMetrics } from '../src/metrics';
import { Worker } from '../src/worker';
import { Registry } from 'prom-client';
import { PostgresServer, createMatch, notifierUrl, scoreGoal, startDatabase, testLogger } from './support';

describe('notifier cursor', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let pool: pg.Pool;
  const term = new AbortController().signal;

  beforeAll(async () => {
    ({ server, admin } = await startDatabase());
    pool = new pg.Pool({ connectionString: notifierUrl(server), max: 2 });
  });

  afterAll(async () => {
    await pool?.end();
    await admin?.end();
    await server?.destroy();
  });

  const worker = (eventsPerPoll: number) =>
    new Worker({
      pool,
      logger: testLogger(),
      metrics: createNotifierMetrics(new Registry()),
      batchSize: 10,
      eventsPerPoll,
      pollIntervalMs: 10,
      notificationTtlMs: 60_000,
    });
  const minutes = async (user: string) =>
    (await admin.query<{ m: number }>(`SELECT (data->>'minute')::int AS m FROM notification WHERE user_id = $1 ORDER BY id`, [user])).rows.map(
      (row) => row.m,
    );
  const drain = async (w: Worker) => {
    while (await w.poll(term));
  };

  it('a row that commits after a poll stopped at its limit is still processed', async () => {
    const m1 = await createMatch(admin, 'ars', 'che', 'epl');
    const m2 = await createMatch(admin, 'liv', 'eve', 'epl');
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('k-1', 'league', 'epl')`);
    const w = worker(1);
    await drain(w); // creates the cursor at the current horizon
    const early = await admin.connect();
    const held = await admin.connect();
    try {
      await early.query('BEGIN');
      await early.query('SELECT pg_current_xact_id()');
      await held.query('BEGIN');
      await scoreGoal(held, m1, 'home', 1, 'Held'); // the lowest outbox id, a later xid
      await scoreGoal(early, m2, 'home', 2, 'B');
      await scoreGoal(early, m2, 'home', 3, 'C');
      await early.query('COMMIT');
      // One row per poll: goal 2 only; there is more below the horizon.
      expect(await w.poll(term)).toBe(true);
      expect(await minutes('k-1')).toEqual([2]);
      // Goal 1 becomes visible, with an id below the last processed one.
      await held.query('COMMIT');
      await drain(w);
    } finally {
      early.release();
      held.release();
    }
    expect(await minutes('k-1')).toEqual([2, 3, 1]);
    // And a restarted worker (from the stored cursor) finds nothing left to do.
    await drain(worker(100));
    expect(await minutes('k-1')).toEqual([2, 3, 1]);
  });

  // Before: rows are read only above the stored position, so a cursor from another cluster's dump
  // (its transaction ids far past this one's) notified nobody, silently, until this database's
  // ids caught up — a billion transactions later.
  it('a stored cursor ahead of every transaction of the database starts again at the current horizon', async () => {
    const m = await createMatch(admin, 'ars', 'che', 'epl');
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('a-1', 'match', $1)`, [m]);
    await drain(worker(100));
    await admin.query(`UPDATE notifier_cursor SET horizon = (pg_snapshot_xmin(pg_current_snapshot())::text::bigint + 1000000000)::text::xid8, event_id = 42`);
    const w = worker(100);
    await drain(w);
    await scoreGoal(admin, m, 'home', 7);
    await drain(w);
    expect(await minutes('a-1')).toEqual([7]);
  });

  it('a fresh cursor starts at the current horizon: history is not notified', async () => {
    await admin.query(`DELETE FROM notifier_cursor`);
    const m = await createMatch(admin, 'ars', 'che', 'epl');
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('f-1', 'match', $1)`, [m]);
    await scoreGoal(admin, m, 'home', 5);
    const w = worker(100);
    await drain(w);
    await scoreGoal(admin, m, 'home', 6);
    await drain(w);
    expect(await minutes('f-1')).toEqual([6]);
  });
});
