import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` on one pool client inside a transaction: committed when it returns, rolled back
 * when it throws (the error is rethrown). A client whose connection failed mid-transaction is
 * discarded, not returned to the pool.
 */
export async function inTransaction<T>(db: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').then(
      () => client.release(),
      (lost: Error) => client.release(lost),
    );
    throw error;
  }
}
