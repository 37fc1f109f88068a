/**
 * Least-privilege database roles (migration 003_roles.sql) against a real PostgreSQL: one login
 * user per service, each a member of its group role, doing what its service does — and
 * refused everything else.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, pruneOutbox, readStream, streamHeads } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

const USERS_SQL = join(__dirname, '..', '..', '..', 'charts', 'matchcast', 'files', 'db-users.sql');
const PASSWORDS = { gateway: 'gw-Pass_1', listener: 'li-Pass_2', crawler: 'cr-Pass_3', api: 'api-Pass_4', notifier: 'no-Pass_5' };
/** psql's -v arguments for db-users.sql: every login user's password, some replaced. */
const passwordArgs = (given: Partial<typeof PASSWORDS> = {}) =>
  Object.entries({ ...PASSWORDS, ...given }).flatMap(([service, password]) => ['-v', `${service}_password=${password}`]);
const PERMISSION_DENIED = /permission denied/;

function psqlAvailable(): boolean {
  return spawnSync('psql', ['--version']).status === 0;
}

describe('database roles (003_roles.sql)', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  const pools: pg.Pool[] = [];
  let crawler: pg.Pool;
  let gateway: pg.Pool;
  let listener: pg.Pool;

  const urlFor = (user: string, password: string) => {
    const url = new URL(server.url);
    url.username = user;
    url.password = password;
    return url.toString();
  };
  const poolFor = (user: string, password: string) => {
    const pool = new pg.Pool({ connectionString: urlFor(user, password), max: 2 });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    // Password authentication for TCP connections, as in any real deployment.
    server = await new PostgresServer({ passwordAuthentication: true }).start();
    admin = new pg.Pool({ connectionString: server.url });
    const client = await admin.connect();
    try {
      expect(await migrate(client)).toContain('003_roles');
    } finally {
      client.release();
    }
    // The login users, as the chart's db-users step makes them (the shipped script when psql is
    // here, else the same statements by hand).
    if (psqlAvailable()) {
      const result = spawnSync(
        'psql',
        ['-X', '-v', 'ON_ERROR_STOP=1', ...passwordArgs(), '-f', USERS_SQL, server.url],
        { encoding: 'utf8' },
      );
      if (result.status !== 0) throw new Error(`db-users.sql failed:\n${result.stdout}\n${result.stderr}`);
    } else {
      for (const [service, password] of Object.entries(PASSWORDS)) {
        await admin.query(`CREATE ROLE matchcast_${service}_login LOGIN PASSWORD '${password}' IN ROLE matchcast_${service}`);
      }
    }
    crawler = poolFor('matchcast_crawler_login', PASSWORDS.crawler);
    gateway = poolFor('matchcast_gateway_login', PASSWORDS.gateway);
    listener = poolFor('matchcast_listener_login', PASSWORDS.listener);
    // A league and two teams, as the crawler writes them.
    await crawler.query(`INSERT INTO league (id, name) VALUES ('l', 'League')`);
    await crawler.query(`INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B')`);
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await admin?.end();
    await server?.destroy();
  });

  it('refuses a login user with a wrong password', async () => {
    const client = new pg.Client({ connectionString: urlFor('matchcast_crawler_login', 'wrong') });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('creates NOLOGIN group roles, and login users that are members of exactly their group', async () => {
    const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; groups: string[] }>(
      `SELECT r.rolname, r.rolcanlogin, r.rolsuper,
              ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)::text[] AS groups
         FROM pg_roles r WHERE r.rolname LIKE 'matchcast\\_%' ORDER BY r.rolname`,
    );
    expect(rows).toEqual([
      { rolname: 'matchcast_api', rolcanlogin: false, rolsuper: false, groups: [] },
      { rolname: 'matchcast_api_login', rolcanlogin: true, rolsuper: false, groups: ['matchcast_api'] },
      { rolname: 'matchcast_crawler', rolcanlogin: false, rolsuper: false, groups: [] },
      { rolname: 'matchcast_crawler_login', rolcanlogin: true, rolsuper: false, groups: ['matchcast_crawler'] },
      { rolname: 'matchcast_gateway', rolcanlogin: false, rolsuper: false, groups: [] },
      { rolname: 'matchcast_gateway_login', rolcanlogin: true, rolsuper: false, groups: ['matchcast_gateway'] },
      { rolname: 'matchcast_listener', rolcanlogin: false, rolsuper: false, groups: [] },
      { rolname: 'matchcast_listener_login', rolcanlogin: true, rolsuper: false, groups: ['matchcast_listener'] },
      { rolname: 'matchcast_notifier', rolcanlogin: false, rolsuper: false, groups: [] },
      { rolname: 'matchcast_notifier_login', rolcanlogin: true, rolsuper: false, groups: ['matchcast_notifier'] },
    ]);
  });

  it('the users script is idempotent and rotates passwords', async () => {
    if (!psqlAvailable()) return;
    const run = (password: string) =>
      spawnSync('psql', ['-X', '-v', 'ON_ERROR_STOP=1', ...passwordArgs({ gateway: password }), '-f', USERS_SQL, server.url], { encoding: 'utf8' });
    expect(run('rotated-1').status).toBe(0);
    const rotated = new pg.Client({ connectionString: urlFor('matchcast_gateway_login', 'rotated-1') });
    await rotated.connect();
    await rotated.end();
    const stale = new pg.Client({ connectionString: urlFor('matchcast_gateway_login', PASSWORDS.gateway) });
    await expect(stale.connect()).rejects.toThrow(/password authentication failed/);
    expect(run(PASSWORDS.gateway).status).toBe(0);
    const empty = run('');
    expect(empty.status).not.toBe(0);
    expect(empty.stderr).toContain('gateway_password must be set and not empty');
  });

  describe('crawler', () => {
    it('writes a match and its tables; the trigger appends to the outbox as the owner', async () => {
      await crawler.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m', 'l', 'a', 'b', now())`);
      await crawler.query(`UPDATE match SET status = 'live' WHERE id = 'm'`);
      await crawler.query(`INSERT INTO scoreboard AS s (match_id, home_score) VALUES ('m', 1)
                           ON CONFLICT (match_id) DO UPDATE SET home_score = s.home_score + 1`);
      await crawler.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ('m', 12, 'goal', 'home', 'P')`);
      const events = await readStream(admin, 'match:m', 0);
      expect(events.map((e) => [e.seq, e.type])).toEqual([
        [1, 'match_status'],
        [2, 'match_status'],
        [3, 'match_update'],
        [4, 'match_event'],
      ]);
    });

    it('cannot touch the outbox or the counters, nor call the append function, nor delete', async () => {
      await expect(crawler.query(`SELECT * FROM outbox`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`INSERT INTO outbox (stream, seq, source, type, data) VALUES ('user:1', 1, 'x', 'x', '{}')`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`UPDATE stream_counter SET last_seq = 1000`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`SELECT matchcast_append('user:1', 'x', 'x', NULL, '{}')`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`DELETE FROM football_event`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`CREATE TABLE evil (id int)`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`ALTER TABLE match DISABLE TRIGGER match_emit_update`)).rejects.toThrow(/must be owner/);
    });

    it('a temporary table of its own does not redirect the trigger', async () => {
      const client = await crawler.connect();
      try {
        await client.query(`CREATE TEMP TABLE outbox (LIKE pg_class)`).catch(() => undefined);
        await client.query(`UPDATE match SET status = 'half_time' WHERE id = 'm'`);
      } finally {
        client.release(true);
      }
      const heads = await streamHeads(admin);
      expect(heads.get('match:m')).toBe(5);
    });
  });

  describe('gateway', () => {
    it('reads the outbox and counters, calls the snapshot function and LISTENs', async () => {
      expect((await readStream(gateway, 'match:m', 0)).length).toBe(5);
      expect((await streamHeads(gateway)).get('match:m')).toBe(5);
      const { rows } = await gateway.query(
        `SELECT matchcast_match_snapshot(m.id) AS match, COALESCE(c.last_seq, 0)::int AS seq
           FROM match m LEFT JOIN stream_counter c ON c.stream = 'match:' || m.id`,
      );
      expect(rows).toEqual([{ match: expect.objectContaining({ match_id: 'm', status: 'half_time', score: { home: 1, away: 0 } }), seq: 5 }]);
      const client = await gateway.connect();
      try {
        await client.query('LISTEN match_change');
        const received = new Promise<string>((resolve) => client.once('notification', (n) => resolve(n.channel)));
        await crawler.query(`UPDATE match SET status = 'live' WHERE id = 'm'`);
        await expect(received).resolves.toBe('match_change');
      } finally {
        client.release();
      }
    });

    it('prunes the outbox (DELETE, under its advisory lock)', async () => {
      await expect(pruneOutbox(gateway, 0, 2)).resolves.toBe(4);
      expect((await readStream(admin, 'match:m', 0)).map((e) => e.seq)).toEqual([5, 6]);
    });

    it('cannot write the domain tables, the counters or the outbox', async () => {
      await expect(gateway.query(`UPDATE match SET status = 'finished' WHERE id = 'm'`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(gateway.query(`INSERT INTO league (id, name) VALUES ('x', 'X')`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(gateway.query(`UPDATE stream_counter SET last_seq = 0`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(gateway.query(`INSERT INTO outbox (stream, seq, source, type, data) VALUES ('user:1', 1, 'x', 'x', '{}')`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(gateway.query(`SELECT matchcast_append('user:1', 'x', 'x', NULL, '{}')`)).rejects.toThrow(PERMISSION_DENIED);
    });
  });

  describe('notify-listener', () => {
    it('LISTENs on its own connection and takes the leader advisory lock', async () => {
      const client = await listener.connect();
      try {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [7_246_102]);
        expect(rows[0]!.locked).toBe(true);
        await client.query('LISTEN match_change; LISTEN scoreboard_change');
        const received = new Promise<string>((resolve) => client.once('notification', (n) => resolve(n.channel)));
        await crawler.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm'`);
        await expect(received).resolves.toBe('scoreboard_change');
        await client.query('SELECT pg_advisory_unlock($1)', [7_246_102]);
      } finally {
        client.release();
      }
    });

    it('cannot read or write any table, nor call the snapshot function', async () => {
      for (const table of ['outbox', 'stream_counter', 'match', 'team', 'schema_migrations']) {
        await expect(listener.query(`SELECT * FROM ${table} LIMIT 1`)).rejects.toThrow(PERMISSION_DENIED);
      }
      await expect(listener.query(`UPDATE match SET status = 'finished'`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(listener.query(`DELETE FROM outbox`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(listener.query(`SELECT matchcast_match_snapshot('m')`)).rejects.toThrow(PERMISSION_DENIED);
    });
  });

  it('re-running the migrations is a no-op (003 is recorded once)', async () => {
    const client = await admin.connect();
    try {
      expect(await migrate(client)).toEqual([]);
    } finally {
      client.release();
    }
    expect(readFileSync(join(__dirname, '..', 'migrations', '003_roles.sql'), 'utf8')).toContain('SECURITY DEFINER');
  });

  describe('crawler and 005 (standings, schedule changes)', () => {
    it('finishing and rescheduling its own rows updates the table and appends league_table / schedule_update as the owner', async () => {
      const tablesBefore = (await readStream(admin, 'league:l', 0)).length;
      await crawler.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('f', 'l', 'a', 'b', '2026-01-01T15:00Z')`);
      await crawler.query(`UPDATE match SET kickoff_at = '2026-01-02T15:00Z' WHERE id = 'f'`);
      await crawler.query(`BEGIN; INSERT INTO scoreboard (match_id, home_score) VALUES ('f', 3); UPDATE match SET status = 'finished' WHERE id = 'f'; COMMIT`);
      const tables = await readStream(admin, 'league:l', 0);
      expect(tables.length).toBe(tablesBefore + 1);
      expect((tables.at(-1)!.data.rows as { team: { id: string }; points: number }[])[0]).toMatchObject({ team: { id: 'a' }, points: 3 });
      expect((await readStream(admin, 'match:f', 0)).filter((e) => e.type === 'schedule_update').map((e) => e.data.change)).toEqual(['rescheduled']);
    });

    it('cannot write the standing table nor call the recompute functions', async () => {
      await expect(crawler.query(`DELETE FROM standing`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`SELECT * FROM standing`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`SELECT matchcast_refresh_standing('l')`)).rejects.toThrow(PERMISSION_DENIED);
      await expect(crawler.query(`SELECT * FROM matchcast_compute_standing('l')`)).rejects.toThrow(PERMISSION_DENIED);
    });
  });
});
