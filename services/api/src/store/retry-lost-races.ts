import { isLostRace } from '@matchcast/db';
import type { Pool } from 'pg';

/** How often a statement that lost a race is run again before its error is answered (503 UNAVAILABLE). */
export const LOST_RACE_RETRIES = 2;

/**
 * Runs the pool's one-statement queries again when they lose a race. Every write of the API is
 * one statement (a function call) in a transaction of its own; a deadlock's victim or a
 * serialization failure is rolled back whole, so running it again is safe, and the transaction
 * it collided with has gone on meanwhile (the notifier pruning a user's notifications row by row
 * meets mark-all-read updating them in another order: one of the two is aborted). Queries on a
 * checked-out client (a transaction) are left alone: only their caller can run it all again.
 */
export function retryLostRaces(pool: Pool): Pool {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const run = async (args: unknown[]): Promise<unknown> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await query(...args);
      } catch (error) {
        if (attempt >= LOST_RACE_RETRIES || !isLostRace(error)) throw error;
      }
    }
  };
  // The callback form and submittables (a cursor, a stream; unused here) go through untouched.
  const plain = (args: unknown[]) => typeof args[args.length - 1] !== 'function' && typeof (args[0] as { submit?: unknown } | null)?.submit !== 'function';
  pool.query = ((...args: unknown[]) => (plain(args) ? run(args) : query(...args))) as Pool['query'];
  return pool;
}
