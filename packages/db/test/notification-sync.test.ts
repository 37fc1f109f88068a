/**
 * Every event on a user's stream carries the unread count, and every tab shows the last one it
 * received: so each event's count must be the true count at its seq, and mark-all-read must mark
 * every notification with a lower seq — also when two changes of one user's notifications run
 * at once (the notifier creating one while the user marks all read in the API, two creators).
 * The transactions are interleaved by hand: one holds its change open while the other starts.
 */
import { migrate, readStream } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

describe('notification changes of one user, concurrently', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    pool = new pg.Pool({ connectionString: server.url });
    const client = await pool.connect();
    await migrate(client);
    client.release();
  });

  afterAll(async () => {
    await pool.end();
    await server.destroy();
  });

  const notify = (db: pg.Pool | pg.PoolClient, user: string, key: string) =>
    db.query(`SELECT * FROM matchcast_notify_users($1, 'Goal', '', 'goal', NULL, NULL, NULL, NULL, NULL, NULL, $2)`, [[user], key]);

  /** The user's stream replayed as a tab applies it: the last unread count and which ids it shows as read. */
  async function replay(user: string): Promise<{ unread: number; readIds: string[]; events: string[] }> {
    const events = await readStream(pool, `user:${user}`, 0);
    const read = new Set<string>();
    const ids: string[] = [];
    let unread = 0;
    for (const event of events) {
      const data = event.data as { id?: string; unread_count: number };
      unread = data.unread_count;
      if (event.type === 'notification') ids.push(data.id!);
      if (event.type === 'notification_read') read.add(data.id!);
      if (event.type === 'notifications_read_all') for (const id of ids) read.add(id);
    }
    return { unread, readIds: [...read].sort(), events: events.map((e) => e.type) };
  }

  async function truth(user: string): Promise<{ unread: number; readIds: string[] }> {
    const { rows } = await pool.query<{ id: string; is_read: boolean }>('SELECT id::text, is_read FROM notification WHERE user_id = $1', [user]);
    return { unread: rows.filter((r) => !r.is_read).length, readIds: rows.filter((r) => r.is_read).map((r) => r.id).sort() };
  }

  /** Runs `first` in an open transaction, starts `second`, waits until it is blocked, then commits `first`. */
  async function interleave(first: (db: pg.PoolClient) => Promise<unknown>, second: () => Promise<unknown>): Promise<void> {
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await first(holder);
      const pending = second();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await holder.query('COMMIT');
      await pending;
    } finally {
      holder.release();
    }
  }

  it('mark-all-read committed while a notification is being created: the new one counts as unread', async () => {
    await notify(pool, 'u1', 'a');
    await notify(pool, 'u1', 'b');
    await interleave((db) => db.query(`SELECT matchcast_mark_all_read('u1')`), () => notify(pool, 'u1', 'c'));
    const [seen, actual] = await Promise.all([replay('u1'), truth('u1')]);
    expect(actual.unread).toBe(1);
    expect({ unread: seen.unread, readIds: seen.readIds }).toEqual(actual);
  });

  it('a notification committed while mark-all-read runs: it is marked too, and the count says so', async () => {
    await notify(pool, 'u2', 'a');
    await interleave((db) => notify(db, 'u2', 'b'), () => pool.query(`SELECT matchcast_mark_all_read('u2')`));
    const [seen, actual] = await Promise.all([replay('u2'), truth('u2')]);
    expect(actual).toEqual({ unread: 0, readIds: seen.readIds });
    expect(seen.unread).toBe(0);
  });

  it('two notifications for a user with no stream yet: the second event counts both', async () => {
    await interleave((db) => notify(db, 'u3', 'a'), () => notify(pool, 'u3', 'b'));
    const seen = await replay('u3');
    expect(seen).toEqual({ unread: 2, readIds: [], events: ['notification', 'notification'] });
  });

  it('read and delete committed while a notification is created: the counts follow the seq order', async () => {
    const [a] = (await notify(pool, 'u4', 'a')).rows as { id: string }[];
    const [b] = (await notify(pool, 'u4', 'b')).rows as { id: string }[];
    await interleave((db) => db.query(`SELECT matchcast_mark_read('u4', $1)`, [a!.id]), () => notify(pool, 'u4', 'c'));
    expect((await replay('u4')).unread).toBe(2);
    await interleave((db) => db.query(`SELECT matchcast_delete_notification('u4', $1)`, [b!.id]), () => notify(pool, 'u4', 'd'));
    const [seen, actual] = await Promise.all([replay('u4'), truth('u4')]);
    expect(actual.unread).toBe(2);
    expect(seen.unread).toBe(2);
  });
});
