import type { Pool, PoolClient } from 'pg';
import { isConnectionError } from './errors';

/**
 * Runs `work` on one client checked out of the pool, and returns it. A connection that dies
 * while its client is checked out emits 'error' on the client, not the pool, and with no
 * listener that ends the process (a Postgres restart during a replay or a transaction did): here
 * it is noted (the query in flight rejects too), and such a client is discarded, never
 * returned to the pool. `discard` lets `work` ask for the same (a failed ROLLBACK).
 */
export async function withClient<T>(pool: Pool, work: (client: PoolClient, discard: (reason: Error) => void) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const discard = (reason: Error) => (broken ??= reason);
  client.on('error', discard);
  try {
    return await work(client, discard);
  } finally {
    client.off('error', discard);
    client.release(broken);
  }
}

/**
 * Runs `work` in a transaction on one client (withClient): committed when it returns, rolled
 * back when it throws (the error is rethrown). The client is discarded when the connection
 * failed or the ROLLBACK did.
 */
export function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client, discard) => {
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (isConnectionError(error)) discard(error as Error);
      await client.query('ROLLBACK').catch(discard);
      throw error;
    }
  });
}
