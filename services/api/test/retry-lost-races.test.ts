/**
 * A write that loses a race inside Postgres — chosen as a deadlock's victim — is run again by the
 * API, against a real Postgres: the notifier's pruning deletes a user's notifications row by row
 * in its own order while the user's mark-all-read updates them in another; Postgres aborts one of
 * the two, and the user is answered as if nothing had happened (not 500 INTERNAL).
 */
import type pg from 'pg';
import { call, startDatabase, startTestApi, token, type PostgresServer } from './support';

describe('api: writes that lose a race are run again', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;

  beforeAll(async () => {
    let apiUrl: string;
    ({ server, admin, apiUrl } = await startDatabase());
    api = await startTestApi(apiUrl);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.end();
    await server?.destroy();
  });

  /** Until one of the API's database sessions waits for a lock (at most 5 s). */
  const apiWaitsForALock = async () => {
    const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'matchcast-api' AND wait_event_type = 'Lock'`;
    for (let i = 0; i < 100 && (await admin.query(waiting)).rows[0].n < 1; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await admin.query(waiting)).rows[0].n).toBe(1);
  };

  it("mark-all-read chosen as a deadlock's victim against a pruning transaction is run again: 200, the rows left marked", async () => {
    const [service, dana] = await Promise.all([token('backend', ['service']), token('dana')]);
    for (const title of ['kept', 'pruned 1', 'pruned 2']) {
      expect((await call(api.url, 'POST', '/api/notifications', { token: service, json: { user_id: 'dana', title, message: 'm', type: 'system' } })).status).toBe(201);
    }
    const ids: string[] = (await admin.query(`SELECT id::text FROM notification WHERE user_id = 'dana' ORDER BY id`)).rows.map((row) => row.id);
    const pruner = await admin.connect();
    try {
      // Never the one to look for the deadlock first: the API's request is the victim.
      await pruner.query(`SET deadlock_timeout = '30s'`);
      await pruner.query('BEGIN');
      await pruner.query('DELETE FROM notification WHERE id = $1', [ids[2]]);
      // The API's UPDATE locks the first two rows (physical order) and waits for the third...
      const answer = call(api.url, 'POST', '/api/notifications/mark-all-read', { token: dana });
      await apiWaitsForALock();
      // ...which the pruner holds, now waiting for the second: a deadlock.
      await pruner.query('DELETE FROM notification WHERE id = $1', [ids[1]]);
      await pruner.query('COMMIT');
      expect(await answer).toMatchObject({ status: 200, body: { marked_as_read: 1, unread_count: 0 } });
    } finally {
      pruner.release();
    }
    expect((await admin.query(`SELECT id::text, is_read FROM notification WHERE user_id = 'dana'`)).rows).toEqual([{ id: ids[0], is_read: true }]);
  });
});
