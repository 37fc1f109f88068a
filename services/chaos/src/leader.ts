import type { Pool } from 'pg';

/** The listener's default leader lock key (LISTENER_LOCK_KEY). */
export const DEFAULT_LISTENER_LOCK_KEY = 7_246_102;

/** The notify-listener sets application_name to `matchcast-listener <LISTENER_ID>` (cut to 63 bytes). */
const APPLICATION_PREFIX = 'matchcast-listener ';

/**
 * The id of the listener that holds the leader lock, read from Postgres itself: the session
 * holding the advisory lock is the leader's LISTEN connection, and its application_name
 * carries the listener id (by default `<hostname>-<pid>`, the pod name in Kubernetes).
 * Undefined while no listener leads.
 */
export async function listenerLeaderId(db: Pool, lockKey = DEFAULT_LISTENER_LOCK_KEY): Promise<string | undefined> {
  // A bigint advisory key is stored as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
  const key = BigInt(lockKey);
  const classid = (key >> 32n) & 0xffffffffn;
  const objid = key & 0xffffffffn;
  const { rows } = await db.query<{ application_name: string }>(
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid::text::bigint = $1 AND l.objid::text::bigint = $2`,
    [classid.toString(), objid.toString()],
  );
  const name = rows[0]?.application_name;
  if (!name) return undefined;
  return name.startsWith(APPLICATION_PREFIX) ? name.slice(APPLICATION_PREFIX.length) : name;
}

/**
 * Which of `candidates` (pod names, listener ids) the leader id belongs to: an exact match,
 * or the candidate the id starts with followed by `-` (`<pod>-<pid>`). The application name
 * may be cut, so a cut id that is a prefix of exactly one candidate also matches.
 */
export function matchLeader(leaderId: string, candidates: readonly string[]): string | undefined {
  const longestFirst = [...candidates].sort((a, b) => b.length - a.length);
  const exact = longestFirst.find((name) => name === leaderId || leaderId.startsWith(`${name}-`));
  if (exact) return exact;
  const partial = candidates.filter((name) => name.startsWith(leaderId));
  return partial.length === 1 ? partial[0] : undefined;
}
