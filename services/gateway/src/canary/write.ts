import type { Pool, QueryConfig } from 'pg';
import type { CanaryWrite } from './canary';

/**
 * Commits a canary event through matchcast_canary (010_canary.sql: SECURITY DEFINER, so the
 * gateway's role needs EXECUTE only). A write slower than `timeoutMs` fails (client-side
 * query timeout): a stuck database shows as write_failed, not as a probe that never ends.
 */
export function canaryWriter(db: Pool, timeoutMs: number): CanaryWrite {
  return async (gatewayId, token) => {
    // query_timeout is a per-query option of pg's client that its types leave out.
    await db.query({ text: 'SELECT matchcast_canary($1, $2)', values: [gatewayId, token], query_timeout: timeoutMs } as QueryConfig);
  };
}
