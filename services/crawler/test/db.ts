/** Test helper: a throwaway Postgres with the migrations applied, and outbox assertions. */
import { migrate } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

export interface TestDatabase {
  server: PostgresServer;
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function startDatabase(): Promise<TestDatabase> {
  const server = await new PostgresServer().start();
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  await migrate(client);
  await client.end();
  const pool = new pg.Pool({ connectionString: server.url, max: 8 });
  pool.on('error', () => undefined); // idle connections die when a test restarts the server
  return {
    server,
    pool,
    async close() {
      await pool.end();
      await server.destroy();
    },
  };
}

export interface OutboxRow {
  stream: string;
  seq: number;
  source: string;
  type: string;
  match_id: string;
  data: Record<string, any>;
}

export async function outbox(pool: pg.Pool, likePrefix: string): Promise<OutboxRow[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT stream, seq::int AS seq, source, type, match_id, data FROM outbox WHERE match_id LIKE $1 ORDER BY id`,
    [`${likePrefix}%`],
  );
  return rows;
}

/** Every stream's seqs, in commit (id) order, are exactly 1..n and match stream_counter. */
export async function expectContiguous(pool: pg.Pool, likePrefix: string): Promise<Map<string, number>> {
  const rows = await outbox(pool, likePrefix);
  const seqs = new Map<string, number[]>();
  for (const row of rows) seqs.set(row.stream, [...(seqs.get(row.stream) ?? []), row.seq]);
  const { rows: counters } = await pool.query<{ stream: string; last_seq: number }>(
    `SELECT stream, last_seq::int AS last_seq FROM stream_counter WHERE stream LIKE $1`,
    [`match:${likePrefix}%`],
  );
  const heads = new Map(counters.map((c) => [c.stream, c.last_seq]));
  const counts = new Map<string, number>();
  for (const [stream, list] of seqs) {
    expect(list).toEqual(list.map((_, i) => i + 1));
    expect(heads.get(stream)).toBe(list.length);
    counts.set(stream, list.length);
  }
  expect(heads.size).toBe(seqs.size);
  return counts;
}
