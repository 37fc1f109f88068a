/**
 * The notifier in-process against a real PostgreSQL, connected as a login user that is only a
 * member of matchcast_notifier: which events notify whom, exactly once, with their user-stream
 * events; the cursor's horizon against transactions that commit out of order; cleanup.
 */
import pg from 'pg';
import { Leadership, NOTIFIER_LOCK_KEY } from '../src/leadership';
import { startNotifier, type RunningNotifier } from '../src/notifier';
import {
  NOTIFIER_USER,
  PostgresServer,
  addFollowers,
  createMatch,
  delay,
  notificationsFor,
  notifierUrl,
  scoreGoal,
  setStatus,
  startDatabase,
  testConfig,
  testLogger,
  waitFor,
} from './support';

describe('notifier', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let notifier: RunningNotifier | undefined;

  const start = async (extra: Record<string, string> = {}) => {
    notifier = await startNotifier(testConfig(server, extra), testLogger());
    await waitFor('leadership', async () => notifier?.status().leader || undefined);
    // The cursor exists from here on: later rows are the notifier's to notify.
    await waitFor('the cursor', async () => ((await admin.query('SELECT 1 FROM notifier_cursor')).rowCount ? true : undefined));
    return notifier;
  };
  const stop = async () => {
    await notifier?.close();
    notifier = undefined;
  };
  /** Waits until the cursor is past everything committed so far. */
  const caughtUp = async () => {
    const { rows } = await admin.query<{ id: string }>(`SELECT max(id)::text AS id FROM outbox WHERE stream LIKE 'match:%'`);
    const last = rows[0]?.id ?? '0';
    await waitFor('the notifier to catch up', async () => {
      const cursor = await admin.query<{ done: boolean }>(
        `SELECT c.after_user = '' AND (SELECT o.txid < c.horizon OR (o.txid = c.horizon AND o.id <= c.event_id) FROM outbox o WHERE o.id = $1) AS done
           FROM notifier_cursor c`,
        [last],
      );
      return cursor.rows[0]?.done || undefined;
    });
  };

  beforeAll(async () => {
    ({ server, admin } = await startDatabase());
  });

  afterAll(async () => {
    await stop();
    await admin?.end();
    await server?.destroy();
  });

  afterEach(stop);

  it('runs as a login user that is a member of matchcast_notifier only', async () => {
    await start();
    const { rows } = await admin.query<{ usename: string; groups: string[]; super: boolean }>(
      `SELECT a.usename, r.rolsuper AS super,
              ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)::text[] AS groups
         FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
        WHERE a.application_name LIKE 'matchcast-notifier%'`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toEqual({ usename: NOTIFIER_USER.name, groups: ['matchcast_notifier'], super: false });
  });

  it('notifies each follower of the match, its teams or its league once per event, and no one else', async () => {
    const match = await createMatch(admin, 'ars', 'che', 'epl');
    await admin.query(
      `INSERT INTO follow (user_id, kind, target_id) VALUES
         ('u-match', 'match', $1), ('u-home', 'team', 'ars'), ('u-away', 'team', 'che'), ('u-league', 'league', 'epl'),
         ('u-all', 'match', $1), ('u-all', 'team', 'ars'), ('u-all', 'team', 'che'), ('u-all', 'league', 'epl'),
         ('u-other', 'team', 'liv'), ('u-other', 'league', 'liga'), ('u-other', 'match', 'elsewhere')`,
      [match],
    );
    await start();
    await setStatus(admin, match, 'live'); // kick_off
    await scoreGoal(admin, match, 'home', 12, 'Saka'); // goal
    await admin.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ($1, 20, 'yellow_card', 'away', 'James')`, [
      match,
    ]); // nothing
    await admin.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ($1, 30, 'red_card', 'away', 'James')`, [match]);
    await scoreGoal(admin, match, 'away', 40, 'Palmer', 'penalty_goal');
    await setStatus(admin, match, 'half_time');
    await setStatus(admin, match, 'live'); // second half: nothing
    await scoreGoal(admin, match, 'home', 67, 'Colwill', 'own_goal');
    await admin.query(`UPDATE gameclock SET minute = 90 WHERE match_id = $1`, [match]); // not an event
    await setStatus(admin, match, 'finished');
    await caughtUp();

    const rows = await notificationsFor(admin, match, 'u-');
    const followers = ['u-all', 'u-away', 'u-home', 'u-league', 'u-match'];
    expect([...new Set(rows.map((row) => row.user_id))].sort()).toEqual(followers);
    const kinds = ['kick_off', 'goal', 'red_card', 'goal', 'half_time', 'goal', 'full_time'];
    for (const user of followers) {
      const mine = rows.filter((row) => row.user_id === user).sort((a, b) => Number(a.id) - Number(b.id));
      expect(mine.map((row) => row.type)).toEqual(kinds);
      expect(new Set(mine.map((row) => row.source_key)).size).toBe(kinds.length);
    }
    const forAll = rows.filter((row) => row.user_id === 'u-all').sort((a, b) => Number(a.id) - Number(b.id));
    expect(forAll.map((row) => row.title)).toEqual([
      'Kick-off: Arsenal v Chelsea',
      "Goal! Arsenal 1–0 Chelsea (12')",
      "Red card: Chelsea (30')",
      "Penalty goal! Arsenal 1–1 Chelsea (40')",
      'Half time: Arsenal 1–1 Chelsea',
      "Own goal! Arsenal 2–1 Chelsea (67')",
      'Full time: Arsenal 2–1 Chelsea',
    ]);
    expect(forAll.map((row) => row.priority)).toEqual(['normal', 'high', 'high', 'high', 'normal', 'high', 'normal']);
    expect(forAll[1]).toMatchObject({
      message: 'Saka scores for Arsenal.',
      match_id: match,
      team_id: 'ars',
      league_id: 'epl',
      data: {
        match_id: match,
        minute: 12,
        score: { home: 1, away: 0 },
        home_team: { id: 'ars', name: 'Arsenal' },
        away_team: { id: 'che', name: 'Chelsea' },
        league: { id: 'epl', name: 'Premier League' },
        event: { type: 'goal', team: 'home', player: 'Saka' },
      },
    });
    expect(forAll[6]?.message).toBe('Arsenal beat Chelsea 2–1 (Premier League).');
    // Expiry: NOTIFICATION_TTL_MS (7 days) after the event.
    const ttl = (forAll[0]?.expires_at as Date).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(6.9 * 86_400_000);
    expect(ttl).toBeLessThan(7.01 * 86_400_000);

    // One `notification` event per notification on the user's stream, seqs 1..n.
    const stream = await admin.query<{ seq: string; type: string; data: { id: string; unread_count: number } }>(
      `SELECT seq::text, type, data FROM outbox WHERE stream = 'user:u-all' ORDER BY seq`,
    );
    expect(stream.rows.map((row) => Number(row.seq))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(stream.rows.every((row) => row.type === 'notification')).toBe(true);
    expect(stream.rows.map((row) => row.data.id)).toEqual(forAll.map((row) => row.id));
    expect(stream.rows.map((row) => row.data.unread_count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await admin.query(`SELECT 1 FROM outbox WHERE stream = 'user:u-other'`)).rowCount).toBe(0);
  });

  it('notifies postponement (normal) and cancellation (urgent), not a new fixture', async () => {
    const postponed = await createMatch(admin, 'liv', 'eve', 'epl');
    const cancelled = await createMatch(admin, 'rma', 'fcb', 'liga');
    await addFollowers(admin, 'pc', 3, 'league', 'epl');
    await addFollowers(admin, 'pc', 3, 'league', 'liga');
    await start();
    await createMatch(admin, 'liv', 'eve', 'epl'); // inserted: not a change
    await setStatus(admin, postponed, 'postponed');
    await setStatus(admin, cancelled, 'cancelled');
    await caughtUp();
    const p = await notificationsFor(admin, postponed, 'pc-');
    const c = await notificationsFor(admin, cancelled, 'pc-');
    expect(p.map((row) => [row.user_id, row.type, row.priority])).toEqual(
      ['pc-0000001', 'pc-0000002', 'pc-0000003'].map((user) => [user, 'postponed', 'normal']),
    );
    expect(p[0]?.message).toBe('Liverpool v Everton (Premier League, kick-off 30 Nov 2026 15:00 UTC) has been postponed.');
    expect(c.map((row) => [row.type, row.priority, row.title])).toEqual(
      Array(3).fill(['cancelled', 'urgent', 'Cancelled: Real Madrid v Barcelona']),
    );
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM notification WHERE user_id LIKE 'pc-%' AND match_id NOT IN ($1, $2)`,
      [postponed, cancelled],
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('pages followers in batches (one transaction each) and still notifies each once', async () => {
    const match = await createMatch(admin, 'liv', 'eve', 'epl');
    await addFollowers(admin, 'bt', 2_345, 'team', 'liv');
    await addFollowers(admin, 'bt', 1_000, 'team', 'eve'); // the first 1,000 follow both teams
    await addFollowers(admin, 'bt', 3_000, 'match', match);
    await start({ NOTIFIER_BATCH_SIZE: '100' });
    await scoreGoal(admin, match, 'home', 5, 'Salah');
    await caughtUp();
    const { rows } = await admin.query<{ users: number; rows: number }>(
      `SELECT count(DISTINCT user_id)::int AS users, count(*)::int AS rows FROM notification WHERE match_id = $1 AND user_id LIKE 'bt-%'`,
      [match],
    );
    expect(rows[0]).toEqual({ users: 3_000, rows: 3_000 });
    const metric = async (name: string) => (await notifier?.registry.getSingleMetricAsString(name)) ?? '';
    expect(await metric('matchcast_notifier_batch_seconds')).toMatch(/matchcast_notifier_batch_seconds_count\{[^}]*\} (3[1-9]|[4-9]\d)/);
    expect(await metric('matchcast_notifier_events_total')).toMatch(/matchcast_notifier_events_total\{type="goal"[^}]*\} 1$/m);
    // This event's followers: the 3,000 above and the earlier tests' followers of the league.
    const created = Number(/_notifications_total\{[^}]*\} (\d+)$/m.exec(await metric('matchcast_notifier_notifications_total'))?.[1]);
    expect(created).toBeGreaterThanOrEqual(3_000);
    expect(created).toBeLessThan(3_100);
    await waitFor('no lag once caught up', async () => (/_lag_seconds\{[^}]*\} 0$/m.test(await metric('matchcast_notifier_lag_seconds')) ? true : undefined));
  });

  it('does not skip a transaction that began before a poll and commits after later ones were processed', async () => {
    // Two matches: events of one stream commit in seq order (the counter's row lock), so
    // out-of-order commits happen across streams.
    const first = await createMatch(admin, 'ars', 'che', 'epl');
    const second = await createMatch(admin, 'liv', 'eve', 'epl');
    await admin.query(
      `INSERT INTO follow (user_id, kind, target_id) VALUES ('h-1', 'match', $1), ('h-1', 'match', $2), ('h-2', 'match', $1), ('h-2', 'match', $2)`,
      [first, second],
    );
    await start({ NOTIFIER_EVENTS_PER_POLL: '1' });
    const minutes = async () =>
      (await admin.query<{ user_id: string; minutes: number[] }>(
        `SELECT user_id, array_agg((data->>'minute')::int ORDER BY id)::int[] AS minutes FROM notification
          WHERE user_id LIKE 'h-%' GROUP BY 1 ORDER BY 1`,
      )).rows;
    const early = await admin.connect();
    const held = await admin.connect();
    try {
      // `early` takes its transaction id first; `held` takes a later one, inserts goal 10 (the
      // lower outbox id) and stays open. `early` then inserts goal 20 (a higher outbox id) and
      // commits: below the horizon (held's xid), it is processed while goal 10 is invisible.
      await early.query('BEGIN');
      await early.query('SELECT pg_current_xact_id()');
      await held.query('BEGIN');
      await scoreGoal(held, first, 'home', 10, 'Held');
      await scoreGoal(early, second, 'away', 20, 'Early');
      await early.query('COMMIT');
      await waitFor('the early goal', async () => ((await minutes()).length === 2 ? true : undefined));
      // A goal committed later, while `held` is still open, waits behind the horizon…
      await scoreGoal(admin, second, 'home', 30, 'Later');
      await delay(500);
      expect(await minutes()).toEqual([
        { user_id: 'h-1', minutes: [20] },
        { user_id: 'h-2', minutes: [20] },
      ]);
      // …and once `held` commits, its goal (the lowest outbox id of the three) is processed, then the later one.
      await held.query('COMMIT');
      await caughtUp();
    } finally {
      await early.query('ROLLBACK').catch(() => undefined);
      await held.query('ROLLBACK').catch(() => undefined);
      early.release();
      held.release();
    }
    expect(await minutes()).toEqual([
      { user_id: 'h-1', minutes: [20, 10, 30] },
      { user_id: 'h-2', minutes: [20, 10, 30] },
    ]);
  });

  it('resumes from the stored cursor after a restart, without history from before its first start', async () => {
    const match = await createMatch(admin, 'ars', 'che', 'epl');
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('r-1', 'match', $1)`, [match]);
    await start();
    await scoreGoal(admin, match, 'home', 1);
    await caughtUp();
    await stop();
    await scoreGoal(admin, match, 'home', 2); // while no notifier runs
    await start();
    await caughtUp();
    expect((await notificationsFor(admin, match, 'r-')).map((row) => row.data.minute)).toEqual([1, 2]);
  });

  it("an event notified again (its cursor rewound, as after a crash before the cursor moved) does not bring back a follower's deleted notification", async () => {
    const match = await createMatch(admin, 'ars', 'che', 'epl');
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('del-1', 'match', $1), ('del-2', 'match', $1)`, [match]);
    await start();
    await scoreGoal(admin, match, 'home', 9);
    await caughtUp();
    const [deleted] = await notificationsFor(admin, match, 'del-1');
    expect((await admin.query(`SELECT matchcast_delete_notification('del-1', $1) AS ok`, [deleted!.id])).rows).toEqual([{ ok: true }]);
    await stop();
    const { rows: [goal] } = await admin.query<{ id: string; txid: string }>(
      `SELECT id::text, txid::text FROM outbox WHERE stream = $1 AND type = 'match_event' ORDER BY id DESC LIMIT 1`,
      [`match:${match}`],
    );
    await admin.query(`UPDATE notifier_cursor SET horizon = $1::xid8, event_id = $2::bigint - 1, after_user = ''`, [goal!.txid, goal!.id]);
    const events = async () => (await admin.query(`SELECT count(*)::int AS n FROM outbox WHERE stream = 'user:del-1'`)).rows[0].n;
    const before = await events();
    await start();
    await caughtUp();
    expect((await notificationsFor(admin, match, 'del-')).map((row) => row.user_id)).toEqual(['del-2']);
    expect(await events()).toBe(before);
  });

  it('cleanup prunes the keys of deleted notifications once their 24 hours have passed, and only those', async () => {
    const notify = (user: string, key: string) =>
      admin.query(`SELECT id FROM matchcast_notify_users(ARRAY[$1], 'T', 'M', 'test', NULL, NULL, NULL, '{}', 'normal', NULL, $2)`, [user, key]);
    for (const user of ['k-recent', 'k-old']) {
      const { rows: [row] } = await notify(user, 'k1');
      await admin.query(`SELECT matchcast_delete_notification($1, $2)`, [user, row.id]);
    }
    await admin.query(`UPDATE notification_key SET created_at = now() - interval '25 hours' WHERE user_id = 'k-old'`);
    await start({ NOTIFICATION_CLEANUP_INTERVAL_MS: '200' });
    await waitFor('the key to be pruned', async () =>
      (await admin.query(`SELECT 1 FROM notification_key WHERE user_id = 'k-old'`)).rowCount === 0 ? true : undefined,
    );
    expect((await admin.query(`SELECT user_id FROM notification_key WHERE user_id LIKE 'k-%'`)).rows).toEqual([{ user_id: 'k-recent' }]);
    expect((await notify('k-recent', 'k1')).rowCount).toBe(0);
    expect((await notify('k-old', 'k1')).rowCount).toBe(1);
  });

  it('wakes only for notifications the outbox code signed: a flood of forged ones makes it read nothing', async () => {
    const match = await createMatch(admin, 'rma', 'fcb', 'liga');
    const leadership = new Leadership({ connectionString: notifierUrl(server), logger: testLogger(), notifierId: 'wake-test' });
    let wakes = 0;
    leadership.on('wake', () => wakes++);
    leadership.start();
    try {
      await waitFor('leadership', async () => leadership.isLeader || undefined);
      const forged = JSON.stringify({ id: '999999', stream: `match:${match}`, seq: 99, type: 'match_event', timestamp: new Date().toISOString(), match_id: match, data: { event: { type: 'goal' } } });
      for (let i = 0; i < 300; i++) await admin.query(`SELECT pg_notify($1, $2)`, [i % 2 ? 'match_change' : 'football_event_change', forged]);
      await scoreGoal(admin, match, 'home', 5); // a genuine football_event_change, after the forged ones on the same connection
      await waitFor('the genuine wake-up', async () => (wakes > 0 ? true : undefined), 5000);
      await delay(200);
      expect(wakes).toBe(1);
    } finally {
      await leadership.close();
    }
  });

  it('a leader whose lock connection is cut stops at once; the standby takes over; nobody is notified twice', async () => {
    const match = await createMatch(admin, 'liv', 'eve', 'epl');
    await addFollowers(admin, 'lc', 3_000, 'match', match);
    const first = await start({ NOTIFIER_BATCH_SIZE: '50' });
    const second = await startNotifier(testConfig(server, { NOTIFIER_BATCH_SIZE: '50' }), testLogger());
    try {
      await waitFor('a connected standby', async () => (second.status().pg && !second.status().leader) || undefined);
      await scoreGoal(admin, match, 'home', 3);
      const notified = async () =>
        (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification WHERE match_id = $1 AND user_id LIKE 'lc-%'`, [match])).rows[0]?.n ?? 0;
      await waitFor('the first batches', async () => ((await notified()) > 0 ? true : undefined), 20_000, 5);
      // The server ends the leader's lock session (as a failover, a network cut or an admin would).
      const cut = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`,
        [NOTIFIER_LOCK_KEY],
      );
      expect(cut.rowCount).toBe(1);
      await waitFor('the old leader to stop', async () => (!first.status().leader ? true : undefined), 5_000, 5);
      await waitFor('the standby to lead', async () => (second.status().leader ? true : undefined), 10_000);
      await waitFor('every follower', async () => ((await notified()) >= 3_000 ? true : undefined), 30_000);
      await delay(300);
      const { rows } = await admin.query<{ users: number; rows: number }>(
        `SELECT count(DISTINCT user_id)::int AS users, count(*)::int AS rows FROM notification WHERE match_id = $1 AND user_id LIKE 'lc-%'`,
        [match],
      );
      expect(rows[0]).toEqual({ users: 3_000, rows: 3_000 });
      // The old leader reconnects as the standby.
      await waitFor('the old leader to stand by', async () => (first.status().pg && !first.status().leader) || undefined, 10_000);
    } finally {
      await second.close();
    }
  });

  it('cleanup removes expired, too old and over-cap notifications', async () => {
    const notify = (user: string, key: string, expires: string | null) =>
      admin.query(
        `SELECT matchcast_notify_users(ARRAY[$1], 'T', 'M', 'test', NULL, NULL, NULL, '{}', 'normal', $2::timestamptz, $3)`,
        [user, expires, key],
      );
    await notify('c-expired', 'e1', '2000-01-01T00:00:00Z');
    await notify('c-expired', 'e2', null);
    await notify('c-old', 'o1', null);
    await admin.query(`UPDATE notification SET created_at = now() - interval '40 days' WHERE user_id = 'c-old'`);
    for (let i = 1; i <= 8; i += 1) await notify('c-many', `n${i}`, null);
    await start({ NOTIFICATION_MAX_PER_USER: '5', NOTIFIER_BATCH_SIZE: '2', NOTIFICATION_CLEANUP_INTERVAL_MS: '200' });
    await waitFor('the cleanup', async () => {
      const { rows } = await admin.query<{ user_id: string; keys: string[] }>(
        `SELECT user_id, array_agg(source_key ORDER BY id)::text[] AS keys FROM notification WHERE user_id LIKE 'c-%' GROUP BY 1 ORDER BY 1`,
      );
      return rows.length === 2 && rows[1]?.keys.length === 5 ? rows : undefined;
    });
    const { rows } = await admin.query<{ user_id: string; keys: string[] }>(
      `SELECT user_id, array_agg(source_key ORDER BY id)::text[] AS keys FROM notification WHERE user_id LIKE 'c-%' GROUP BY 1 ORDER BY 1`,
    );
    expect(rows).toEqual([
      { user_id: 'c-expired', keys: ['e2'] },
      { user_id: 'c-many', keys: ['n4', 'n5', 'n6', 'n7', 'n8'] },
    ]);
    const pruned = await notifier?.registry.getSingleMetricAsString('matchcast_notifier_pruned_total');
    // At least those 5 (other tests' users with more than 5 are trimmed too).
    expect(Number(/matchcast_notifier_pruned_total\{[^}]*\} (\d+)/.exec(pruned ?? '')?.[1])).toBeGreaterThanOrEqual(5);
  });

  it('cleanup trims a user far over the cap through their own rows, not with a scan of every notification per chunk', async () => {
    await stop();
    const { rows: [{ n: earlier }] } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM notification');
    // 300 users at the cap (100 each) and one 10,000 over it: 20 chunks of 500 to delete.
    await admin.query(`INSERT INTO notification (user_id, title, message, type, source_key)
                       SELECT 'd-' || (i % 300), 'T', 'M', 'test', 'd' || i FROM generate_series(1, 30000) i`);
    await admin.query(`INSERT INTO notification (user_id, title, message, type, source_key)
                       SELECT 'd-heavy', 'T', 'M', 'test', 'h' || i FROM generate_series(1, 10100) i`);
    await admin.query('VACUUM ANALYZE notification');
    const tableRows = earlier + 40_100;
    // Rows the notification table's indexes and sequential scans handed out, as Postgres counts them
    // (a backend's counts are reported when it goes idle, at most once a second, and when it exits).
    const rowsRead = async () => {
      await delay(1500);
      const { rows } = await admin.query<{ n: string }>(
        `SELECT (SELECT COALESCE(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'notification')
              + (SELECT COALESCE(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'notification') AS n`,
      );
      return Number(rows[0]!.n);
    };
    const before = await rowsRead();
    await start({ NOTIFICATION_MAX_PER_USER: '100', NOTIFIER_BATCH_SIZE: '500', NOTIFICATION_CLEANUP_INTERVAL_MS: '600000' });
    const pruned = async () => Number(/matchcast_notifier_pruned_total\{[^}]*\} (\d+)/.exec((await notifier?.registry.getSingleMetricAsString('matchcast_notifier_pruned_total')) ?? '')?.[1] ?? 0);
    await waitFor('the trim', async () => ((await pruned()) >= 10_000 ? true : undefined), 60_000);
    await stop(); // its connections end, and report what they read
    const read = (await rowsRead()) - before;
    const { rows: left } = await admin.query<{ user_id: string; n: number }>(
      `SELECT user_id, count(*)::int AS n FROM notification WHERE user_id LIKE 'd-%' GROUP BY 1 HAVING count(*) <> 100`,
    );
    expect(left).toEqual([]);
    // One scan to find who is over the cap, then the heavy user's own rows (about twice the table
    // in all); a scan per chunk read the table 20 times over.
    expect(read).toBeLessThan(4 * tableRows);
  });
});
