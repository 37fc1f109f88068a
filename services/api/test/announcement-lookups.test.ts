/**
 * The public list of a target's active announcements reads that target's rows only, however many
 * published announcements other targets have (every one without an expiry stays published for
 * good): the plan of AnnouncementStore.listActive (auto_explain with actual row counts, functions
 * included) on a real Postgres holding thousands of them.
 */
import pg from 'pg';
import { AnnouncementStore } from '../src/store/announcements';
import { startDatabase, type PostgresServer } from './support';

const OTHERS = 5000;

describe('announcement lookups', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let client: pg.Client;
  const plans: string[] = [];

  beforeAll(async () => {
    ({ server, admin } = await startDatabase());
    await admin.query(`INSERT INTO announcement (title, message, type, target, target_id, created_by, state)
      SELECT 'Gates open early', 'For match ' || g, 'general', t.target, CASE t.target WHEN 'everyone' THEN NULL ELSE 'other' || g END, 'root', 'published'
        FROM generate_series(1, ${OTHERS}) g CROSS JOIN (VALUES ('match'), ('team'), ('league'), ('everyone')) t (target);
      INSERT INTO announcement (title, message, type, target, target_id, created_by, state)
      VALUES ('Kick-off delayed', 'Rain', 'weather_alert', 'match', 'm1', 'root', 'published');
      ANALYZE announcement`);
    client = new pg.Client(server.url);
    await client.connect();
    await client.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
      SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off; SET auto_explain.log_level = notice`);
    client.on('notice', (notice) => plans.push(notice.message ?? ''));
  });

  afterAll(async () => {
    await client?.end();
    await admin?.end();
    await server?.destroy();
  });

  it.each([
    ['a match', 'match', 'm1', 1],
    ['a team', 'team', 'ars', 0],
    ['a league', 'league', 'epl', 0],
  ] as const)("%s's list reads only its own announcements, not other targets' thousands", async (_name, target, targetId, listed) => {
    plans.length = 0;
    const list = await new AnnouncementStore(client as unknown as pg.Pool).listActive(target, targetId, 100);
    expect(list?.announcements).toHaveLength(listed);
    const text = plans.join('\n');
    const reads = [...text.matchAll(/Scan[^\n]* on announcement [^\n]*\(actual rows=(\d+) loops=(\d+)\)/g)].map((m) => Number(m[1]) * Number(m[2]));
    const filtered = [...text.matchAll(/Rows Removed by Filter: (\d+)/g)].map((m) => Number(m[1]));
    expect(text).not.toMatch(/Seq Scan on announcement\b/);
    expect(Math.max(0, ...reads, ...filtered)).toBeLessThan(10);
  });
});
