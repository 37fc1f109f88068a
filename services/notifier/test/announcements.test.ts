/**
 * Timed announcements from the notifier in-process, connected as a login user that is only a
 * member of matchcast_notifier: the leader publishes a scheduled one when its start comes and
 * expires it when its expiry does, each once with its event on the target's stream; a standby
 * does nothing; the notifier's role cannot create or edit announcements itself.
 */
import pg from 'pg';
import { startNotifier, type RunningNotifier } from '../src/notifier';
import { PostgresServer, notifierUrl, startDatabase, testConfig, testLogger, waitFor } from './support';

describe('announcement rounds', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  const running: RunningNotifier[] = [];

  const start = async () => {
    const notifier = await startNotifier(testConfig(server, { ANNOUNCEMENT_INTERVAL_MS: '100' }), testLogger());
    running.push(notifier);
    return notifier;
  };
  /** As the API creates one (the same function); starts and expires in ms from now. */
  const schedule = async (startsInMs: number, expiresInMs: number | null, target = 'team', targetId: string | null = 'ars') => {
    const { rows } = await admin.query(
      `SELECT outcome, announcement FROM matchcast_create_announcement('Gates open late', 'Gates open at 14:30.', 'general', 'normal',
         $1, $2, now() + make_interval(secs => $3::float8 / 1000),
         CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $4::float8 / 1000) END, 'root')`,
      [target, targetId, startsInMs, expiresInMs],
    );
    expect(rows[0].outcome).toBe('created');
    return rows[0].announcement as { id: string; state: string };
  };
  const events = async (stream: string, id: string) =>
    (await admin.query(`SELECT type, data->>'state' AS state FROM outbox WHERE stream = $1 AND data->>'id' = $2 ORDER BY seq`, [stream, id])).rows;
  const state = async (id: string) => (await admin.query(`SELECT state FROM announcement WHERE id = $1`, [id])).rows[0].state;

  beforeAll(async () => {
    ({ server, admin } = await startDatabase());
  });

  afterAll(async () => {
    for (const notifier of running) await notifier.close();
    await admin?.end();
    await server?.destroy();
  });

  it('publishes at starts_at and expires at expires_at, once each, on the target stream; a standby does nothing', async () => {
    const leader = await start();
    await waitFor('leadership', async () => leader.status().leader || undefined);
    const standby = await start();
    const a = await schedule(600, 1500);
    const everyone = await schedule(300, null, 'everyone', null);
    expect(a.state).toBe('scheduled');
    expect(await events('team:ars', a.id)).toEqual([]);
    await waitFor('published', async () => ((await state(a.id)) === 'published' ? true : undefined), 5000);
    await waitFor('expired', async () => ((await state(a.id)) === 'expired' ? true : undefined), 5000);
    expect(await events('team:ars', a.id)).toEqual([
      { type: 'announcement', state: 'published' },
      { type: 'announcement_expired', state: 'expired' },
    ]);
    expect(await events('all', everyone.id)).toEqual([{ type: 'announcement', state: 'published' }]);
    expect(standby.status().leader).toBe(false);
    const metrics = await (await fetch(`http://127.0.0.1:${leader.port}/metrics`)).text();
    expect(metrics).toMatch(/matchcast_notifier_announcements_total\{change="published",service="notifier"\} 2/);
    expect(metrics).toMatch(/matchcast_notifier_announcements_total\{change="expired",service="notifier"\} 1/);
  });

  it('expires without any event one whose whole window passed while no notifier ran', async () => {
    for (const notifier of running.splice(0)) await notifier.close();
    const a = await schedule(100, 200);
    await new Promise((r) => setTimeout(r, 400));
    const notifier = await start();
    await waitFor('leadership', async () => notifier.status().leader || undefined);
    await waitFor('expired', async () => ((await state(a.id)) === 'expired' ? true : undefined), 5000);
    expect(await events('team:ars', a.id)).toEqual([]);
  });

  it("notifies an urgent announcement's followers, a batch per round, each once (migration 020: never in the publishing transaction)", async () => {
    for (const notifier of running.splice(0)) await notifier.close();
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) SELECT 'fan' || lpad(g::text, 2, '0'), 'league', 'liga' FROM generate_series(1, 25) g`);
    const { rows } = await admin.query(
      `SELECT announcement->>'id' AS id FROM matchcast_create_announcement('Stadium closed', 'Storm damage.', 'emergency', 'urgent', 'league', 'liga', NULL, NULL, 'root')`,
    );
    const key = `announcement:${rows[0].id}`;
    const notified = async () => (await admin.query(`SELECT count(DISTINCT user_id)::int AS users, count(*)::int AS n FROM notification WHERE source_key = $1`, [key])).rows[0];
    expect(await notified()).toEqual({ users: 0, n: 0 });
    const notifier = await startNotifier(testConfig(server, { ANNOUNCEMENT_INTERVAL_MS: '100', NOTIFIER_BATCH_SIZE: '10' }), testLogger());
    running.push(notifier);
    await waitFor('every follower notified', async () => ((await notified()).n === 25 ? true : undefined), 5000);
    expect(await notified()).toEqual({ users: 25, n: 25 });
    expect((await admin.query(`SELECT count(*)::int AS n FROM announcement_fanout`)).rows[0].n).toBe(0);
  });

  // Had the fan-out run outside matchcast_run_announcements: the release before's notifier runs
  // that round alone, so beside 020 the fan-out stayed queued and no follower was notified (through a rolling upgrade, and
  // for good after a rollback, which keeps the schema).
  it("the release before's round (the same query, as the notifier role) notifies the followers too", async () => {
    for (const notifier of running.splice(0)) await notifier.close();
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) SELECT 'old' || lpad(g::text, 2, '0'), 'team', 'ars' FROM generate_series(1, 15) g`);
    const { rows } = await admin.query(
      `SELECT outcome, announcement->>'id' AS id FROM matchcast_create_announcement('Kick-off moved', 'Now 16:00.', 'schedule_change', 'urgent', 'team', 'ars', NULL, NULL, 'root')`,
    );
    expect(rows[0].outcome).toBe('created');
    const asNotifier = new pg.Client({ connectionString: notifierUrl(server) });
    await asNotifier.connect();
    try {
      for (let round = 0; round < 2; round++) await asNotifier.query('SELECT published, expired FROM matchcast_run_announcements(10)');
    } finally {
      await asNotifier.end();
    }
    const { n } = (await admin.query(`SELECT count(DISTINCT user_id)::int AS n FROM notification WHERE source_key = $1 AND user_id LIKE 'old%'`, [`announcement:${rows[0].id}`])).rows[0];
    expect(n).toBe(15);
    expect((await admin.query(`SELECT count(*)::int AS n FROM announcement_fanout`)).rows[0].n).toBe(0);
  });

  // Worked oldest first to the end instead, so the second announcement's
  // followers waited for every batch of the first (a million followers: minutes).
  it('announcements queued at once take turns, a batch each', async () => {
    for (const notifier of running.splice(0)) await notifier.close();
    const create = async (target: string, targetId: string) =>
      (await admin.query(
        `SELECT announcement->>'id' AS id FROM matchcast_create_announcement('Turns', 'A batch each.', 'emergency', 'urgent', $1, $2, NULL, NULL, 'root')`,
        [target, targetId],
      )).rows[0].id as string;
    await admin.query(
      `INSERT INTO follow (user_id, kind, target_id) SELECT 'turn-big' || g, 'league', 'liga' FROM generate_series(1, 25) g
       UNION ALL SELECT 'turn-small' || g, 'team', 'ars' FROM generate_series(1, 15) g ON CONFLICT DO NOTHING`,
    );
    const big = await create('league', 'liga');
    const small = await create('team', 'ars');
    const asNotifier = new pg.Client({ connectionString: notifierUrl(server) });
    await asNotifier.connect();
    try {
      for (let round = 0; round < 2; round++) await asNotifier.query('SELECT notified, more FROM matchcast_run_announcement_fanout(10)');
    } finally {
      await asNotifier.end();
    }
    const count = async (id: string) => (await admin.query(`SELECT count(*)::int AS n FROM notification WHERE source_key = $1`, [`announcement:${id}`])).rows[0].n;
    expect({ big: await count(big), small: await count(small) }).toEqual({ big: 10, small: 10 });
    await admin.query(`DELETE FROM announcement_fanout`);
  });

  it('the notifier role runs rounds only: it cannot create, edit or withdraw announcements, nor write the table', async () => {
    const asNotifier = new pg.Client({ connectionString: notifierUrl(server) });
    await asNotifier.connect();
    try {
      for (const sql of [
        `SELECT matchcast_create_announcement('t', 'm', 'general', 'normal', 'everyone', NULL, NULL, NULL, 'x')`,
        `SELECT matchcast_update_announcement(1, '{"title": "x"}')`,
        `SELECT matchcast_expire_announcement(1)`,
        `UPDATE announcement SET state = 'expired'`,
      ]) {
        await expect(asNotifier.query(sql)).rejects.toThrow(/permission denied/);
      }
      expect((await asNotifier.query('SELECT published, expired FROM matchcast_run_announcements(10)')).rows).toHaveLength(1);
      expect((await asNotifier.query('SELECT notified, more FROM matchcast_run_announcement_fanout(10)')).rows).toHaveLength(1);
    } finally {
      await asNotifier.end();
    }
  });
});
