import { NOTIFY_KEYS_QUERY, NotifyKeys, migrate, pruneOutbox, readStream, streamHeads, streamHeadsOf } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

describe('outbox', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    pool = new pg.Pool({ connectionString: server.url });
    const client = await pool.connect();
    await migrate(client);
    client.release();
    await pool.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m', 'l', 'a', 'b', now()), ('n', 'l', 'b', 'a', now())`);
  });

  afterAll(async () => {
    await pool.end();
    await server.destroy();
  });

  it('gives each stream contiguous seqs in commit order, even with concurrent writers', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        pool.query(`INSERT INTO scoreboard (match_id, home_score) VALUES ($1, $2)
                    ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score`, [i % 2 ? 'm' : 'n', i]),
      ),
    );
    for (const stream of ['match:m', 'match:n']) {
      const events = await readStream(pool, stream, 0);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const heads = await streamHeads(pool);
      expect(heads.get(stream)).toBe(events.length);
    }
  });

  it('reads the heads of match streams and of the named user streams only (a gateway follows no other user)', async () => {
    await pool.query(`SELECT matchcast_append(s, 'notification', 'notification', NULL, '{}') FROM unnest(ARRAY['user:u1', 'user:u2', 'user:u2']) s`);
    const heads = await streamHeads(pool, undefined, ['user:u2', 'user:nobody']);
    expect(heads.get('user:u2')).toBe(2);
    expect(heads.has('user:u1')).toBe(false);
    expect(heads.has('user:nobody')).toBe(false);
    expect(heads.get('match:m')).toBeGreaterThan(0);
    expect([...(await streamHeads(pool, 60_000)).keys()].some((stream) => stream.startsWith('user:'))).toBe(false);
    expect(await streamHeadsOf(pool, ['user:u1', 'user:u2', 'user:nobody'])).toEqual(new Map([['user:u1', 1], ['user:u2', 2]]));
  });

  it('replaces a NOTIFY payload over 8000 bytes with a reference to the row', async () => {
    const listener = new pg.Client(server.url);
    await listener.connect();
    await listener.query('LISTEN matchdata_change');
    const payload = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.payload ?? '')));
    await pool.query(`INSERT INTO matchdata (match_id, extra) VALUES ('m', jsonb_build_object('notes', repeat('x', 9000)))`);
    const keys = new NotifyKeys();
    keys.replace((await pool.query(NOTIFY_KEYS_QUERY)).rows);
    const ref = JSON.parse(keys.open(await payload));
    expect(ref).toEqual({ ref: true, id: expect.any(String), stream: 'match:m', seq: expect.any(Number) });
    const [event] = await readStream(pool, 'match:m', ref.seq - 1, ref.seq);
    expect((event!.data.matchdata as { extra: { notes: string } }).extra.notes).toHaveLength(9000);
    await listener.end();
  });

  it('ends a page at its byte bound (never below one row); reading on from its last seq gives the whole stream', async () => {
    const all = await readStream(pool, 'match:m', 0);
    expect(all.length).toBeGreaterThan(2);
    expect((await readStream(pool, 'match:m', 0, undefined, 10_000, 1)).map((e) => e.seq)).toEqual([all[0]!.seq]);
    const firstTwo = all.slice(0, 2).reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e.data)), 0);
    // Postgres writes jsonb's text with a space after each ':' and ',': larger than JSON.stringify's.
    expect((await readStream(pool, 'match:m', 0, undefined, 10_000, firstTwo)).length).toBe(2);
    const paged: typeof all = [];
    for (let page = await readStream(pool, 'match:m', 0, undefined, 10_000, 1); page.length > 0; page = await readStream(pool, 'match:m', paged.at(-1)!.seq, undefined, 10_000, 1)) {
      paged.push(...page);
    }
    expect(paged).toEqual(all);
  });

  it('prunes only rows outside the resume window (older than retention AND beyond the per-stream keep)', async () => {
    await pool.query(`UPDATE outbox SET created_at = now() - interval '2 hours' WHERE stream = 'match:m'`);
    const before = (await readStream(pool, 'match:m', 0)).length;
    const removed = await pruneOutbox(pool, 3_600_000, 5);
    expect(removed).toBe(before - 5);
    expect((await readStream(pool, 'match:m', 0)).length).toBe(5);
    // match:n rows are recent: all kept.
    expect((await pool.query(`SELECT min(seq)::int AS seq FROM outbox WHERE stream = 'match:n'`)).rows[0].seq).toBe(1);
  });
});
