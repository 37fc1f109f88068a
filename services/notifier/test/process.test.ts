/**
 * The notifier as real processes (node dist/main.js) against a real PostgreSQL: killed with
 * SIGKILL in the middle of a big event and restarted, and two at once with a failover.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, startChild, type ManagedChild } from '@matchcast/testkit';
import {
  PostgresServer,
  addFollowers,
  createMatch,
  delay,
  notifierEnv,
  scoreGoal,
  startDatabase,
  userStreamCheck,
  waitFor,
} from './support';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'services', 'notifier', 'dist', 'main.js');

interface Spawned {
  child: ManagedChild;
  port: number;
}

describe('notifier as a process', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  const children: ManagedChild[] = [];
  const logDir = mkdtempSync(join(tmpdir(), 'matchcast-notifier-test-'));

  const spawnNotifier = async (name: string, extra: Record<string, string> = {}): Promise<Spawned> => {
    const port = await freePort();
    const env = { ...process.env, ...notifierEnv(server, { OPS_PORT: String(port), LOG_LEVEL: 'info', ...extra }) };
    const child = startChild(process.execPath, [MAIN], join(logDir, `${name}.log`), { env });
    children.push(child);
    return { child, port };
  };
  const readyz = async (port: number) => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { status: response.status, body: (await response.json()) as { leader: boolean } };
  };
  const leaderMetric = async (port: number) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(/^matchcast_notifier_leader\{[^}]*\} (\d)/m.exec(text)?.[1]);
  };
  // The first leader creates the cursor at the horizon of its first poll: events before are history.
  const cursorCreated = () =>
    waitFor('the cursor', async () => ((await admin.query('SELECT 1 FROM notifier_cursor')).rowCount ? true : undefined));
  const count = async (sql: string, params: unknown[]) => (await admin.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;
  const notified = (matchId: string, prefix: string) =>
    count(`SELECT count(*)::int AS n FROM notification WHERE match_id = $1 AND starts_with(user_id, $2)`, [matchId, prefix]);
  const distinctNotified = (matchId: string, prefix: string) =>
    count(`SELECT count(DISTINCT user_id)::int AS n FROM notification WHERE match_id = $1 AND starts_with(user_id, $2)`, [matchId, prefix]);

  beforeAll(async () => {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', join(ROOT, 'services', 'notifier')], { cwd: ROOT, stdio: 'pipe' });
    ({ server, admin } = await startDatabase());
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGKILL')));
    await admin?.end();
    await server?.destroy();
    if (!process.env.KEEP_TEST_LOGS) rmSync(logDir, { recursive: true, force: true });
  });

  it('killed with SIGKILL mid-event and restarted: every follower has exactly one notification, user seqs contiguous', async () => {
    const followers = 20_000;
    const match = await createMatch(admin, 'ars', 'che', 'epl');
    await addFollowers(admin, 'kill', followers, 'team', 'ars');
    const first = await spawnNotifier('kill-1', { NOTIFIER_BATCH_SIZE: '500' });
    await waitFor('a leader', async () => ((await readyz(first.port)).body.leader ? true : undefined));
    await cursorCreated();
    await scoreGoal(admin, match, 'home', 9);
    // Some batches are in, not all: kill it there.
    await waitFor('the first batches', async () => ((await notified(match, 'kill-')) >= 2_000 ? true : undefined), 30_000, 5);
    first.child.signal('SIGKILL');
    await first.child.exited;
    const partial = await notified(match, 'kill-');
    expect(partial).toBeGreaterThanOrEqual(2_000);
    expect(partial).toBeLessThan(followers);
    const cursor = await admin.query<{ after_user: string }>(`SELECT after_user FROM notifier_cursor`);
    expect(cursor.rows[0]?.after_user).not.toBe(''); // stopped inside the event

    await spawnNotifier('kill-2', { NOTIFIER_BATCH_SIZE: '500' });
    await waitFor('every follower', async () => ((await notified(match, 'kill-')) >= followers ? true : undefined), 60_000);
    await delay(500);
    expect(await notified(match, 'kill-')).toBe(followers);
    expect(await distinctNotified(match, 'kill-')).toBe(followers);
    // One `notification` event per user stream, seq 1.
    expect(await userStreamCheck(admin, 'kill-')).toEqual({ users: followers, bad_streams: 0, events: followers });
  }, 120_000);

  it('two notifiers: one leads, the other takes over within seconds of its SIGKILL, no duplicates', async () => {
    await Promise.all(children.map((child) => child.stop('SIGKILL')));
    const match = await createMatch(admin, 'liv', 'eve', 'epl');
    await addFollowers(admin, 'fo', 5_000, 'match', match);
    const a = await spawnNotifier('fo-a', { NOTIFIER_BATCH_SIZE: '250' });
    const b = await spawnNotifier('fo-b', { NOTIFIER_BATCH_SIZE: '250' });
    const roles = await waitFor('one leader, one standby', async () => {
      const [ra, rb] = await Promise.all([readyz(a.port), readyz(b.port)]);
      if (ra.status !== 200 || rb.status !== 200) return undefined;
      return ra.body.leader !== rb.body.leader ? { leader: ra.body.leader ? a : b, standby: ra.body.leader ? b : a } : undefined;
    });
    expect(await leaderMetric(roles.leader.port)).toBe(1);
    expect(await leaderMetric(roles.standby.port)).toBe(0);

    await scoreGoal(admin, match, 'home', 1);
    await waitFor('the first goal', async () => ((await notified(match, 'fo-')) === 5_000 ? true : undefined), 30_000);
    await scoreGoal(admin, match, 'home', 2);
    await waitFor('some of the second goal', async () => ((await notified(match, 'fo-')) > 5_000 ? true : undefined), 30_000, 5);
    roles.leader.child.signal('SIGKILL');
    const killedAt = Date.now();
    await waitFor('the standby to lead', async () => ((await readyz(roles.standby.port)).body.leader ? true : undefined), 10_000);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(5_000);
    await scoreGoal(admin, match, 'home', 3);
    await waitFor('all three goals', async () => ((await notified(match, 'fo-')) >= 15_000 ? true : undefined), 60_000);
    await delay(500);
    expect(await notified(match, 'fo-')).toBe(15_000);
    const perUser = await admin.query<{ n: number; users: number }>(
      `SELECT n::int, count(*)::int AS users FROM (SELECT user_id, count(*) AS n FROM notification
         WHERE match_id = $1 AND user_id LIKE 'fo-%' GROUP BY 1) s GROUP BY 1`,
      [match],
    );
    expect(perUser.rows).toEqual([{ n: 3, users: 5_000 }]);
    expect(await userStreamCheck(admin, 'fo-')).toEqual({ users: 5_000, bad_streams: 0, events: 15_000 });
    expect(await leaderMetric(roles.standby.port)).toBe(1);
    // eslint-disable-next-line no-console
    console.log(`notifier failover: standby led ${takeover} ms after the leader's SIGKILL`);
  }, 120_000);
});
