/**
 * The delivery canary's database side (010_canary.sql) against a real PostgreSQL: the gateway's
 * role commits canary events with EXECUTE alone, each one is an outbox row and a NOTIFY like
 * every event, bad arguments are refused, and canary streams stay bounded.
 */
import { migrate, streamHeads } from '@matchcast/db';
import { decodeNotification } from '@matchcast/protocol';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

describe('matchcast_canary (010_canary.sql)', () => {
  let server: PostgresServer;
  let admin: pg.Client;
  let gateway: pg.Client;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    admin = new pg.Client(server.url);
    await admin.connect();
    await migrate(admin);
    await admin.query(`CREATE ROLE canary_gw LOGIN IN ROLE matchcast_gateway`);
    const url = new URL(server.url);
    url.username = 'canary_gw';
    url.password = '';
    gateway = new pg.Client(url.toString());
    await gateway.connect();
  });

  afterAll(async () => {
    await gateway?.end();
    await admin?.end();
    await server?.destroy();
  });

  const counts = async (stream: string) =>
    (
      await admin.query<{ rows: number; head: number | null }>(
        `SELECT (SELECT count(*) FROM outbox WHERE stream = $1)::int AS rows,
                (SELECT last_seq FROM stream_counter WHERE stream = $1)::int AS head`,
        [stream],
      )
    ).rows[0]!;

  it('lets the gateway role commit a canary event: an outbox row and a NOTIFY canary_change the bus decoder accepts', async () => {
    const listener = new pg.Client(server.url);
    await listener.connect();
    try {
      await listener.query('LISTEN canary_change');
      const notified = new Promise<string>((resolve) => listener.on('notification', (message) => resolve(message.payload ?? '')));
      await gateway.query('SELECT matchcast_canary($1, $2)', ['gw-1', 'tok_A-1']);
      const event = decodeNotification(await notified);
      expect(event).toMatchObject({ stream: 'canary:gw-1', seq: 1, type: 'canary', match_id: null, data: { token: 'tok_A-1' } });
      expect(await counts('canary:gw-1')).toEqual({ rows: 1, head: 1 });
    } finally {
      await listener.end();
    }
  });

  it('is the only write the gateway role has: no direct outbox insert', async () => {
    await expect(
      gateway.query(`INSERT INTO outbox (stream, seq, source, type, data) VALUES ('canary:gw-1', 99, 'canary', 'canary', '{}')`),
    ).rejects.toThrow(/permission denied/);
    await expect(gateway.query(`SELECT matchcast_append('all', 'canary', 'canary', NULL, '{}')`)).rejects.toThrow(/permission denied/);
  });

  it.each([
    ['a gateway id outside the id pattern', 'gw 1', 'tok'],
    ['a gateway id that escapes the prefix', '../match:m1', 'tok'],
    ['an overlong gateway id', 'g'.repeat(65), 'tok'],
    ['a null gateway id', null, 'tok'],
    ['a token outside the pattern', 'gw-1', 'tok"en'],
    ['an empty token', 'gw-1', ''],
  ])('refuses %s (invalid_parameter_value) and writes nothing', async (_what, id, token) => {
    const before = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    await expect(gateway.query('SELECT matchcast_canary($1, $2)', [id, token])).rejects.toMatchObject({ code: '22023' });
    const after = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('keeps a canary stream to its last 10 rows, whatever the outbox retention', async () => {
    for (let i = 0; i < 25; i++) await gateway.query('SELECT matchcast_canary($1, $2)', ['gw-2', `t${i}`]);
    expect(await counts('canary:gw-2')).toEqual({ rows: 10, head: 25 });
  });

  it("forgets the canary streams of gateways silent for an hour, and only those", async () => {
    for (const id of ['gone-1', 'gone-2', 'recent']) await gateway.query('SELECT matchcast_canary($1, $2)', [id, 'tok']);
    await admin.query(`INSERT INTO stream_counter (stream, last_seq, updated_at) VALUES ('match:old', 3, now() - interval '2 hours')`);
    await admin.query(
      `UPDATE stream_counter SET updated_at = now() - interval '61 minutes' WHERE stream IN ('canary:gone-1', 'canary:gone-2')`,
    );
    await admin.query(`UPDATE stream_counter SET updated_at = now() - interval '59 minutes' WHERE stream = 'canary:recent'`);
    await gateway.query('SELECT matchcast_canary($1, $2)', ['gw-3', 'tok']);
    expect(await counts('canary:gone-1')).toEqual({ rows: 0, head: null });
    expect(await counts('canary:gone-2')).toEqual({ rows: 0, head: null });
    expect(await counts('canary:recent')).toEqual({ rows: 1, head: 1 });
    expect((await counts('match:old')).head).toBe(3);
  });

  it('is never among the stream heads a gateway follows', async () => {
    const heads = await streamHeads(admin);
    expect([...heads.keys()].filter((stream) => stream.startsWith('canary:'))).toEqual([]);
    expect(heads.get('match:old')).toBe(3);
  });
});
