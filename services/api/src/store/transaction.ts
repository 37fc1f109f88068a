import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` on one pool client inside a transaction: committed when it returns, rolled back
 * when it throws (the error is rethrown). A connection that dies while the client is checked out
 * emits 'error' on the client, not the pool: noted here (the query in flight rejects too) instead
 * of ending the process, and such a client is discarded, never returned to the pool.
 */
export async function inTransaction<T>(db: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((lost: Error) => (broken ??= lost));
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
