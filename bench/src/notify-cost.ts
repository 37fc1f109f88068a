import { NOTIFY_CHANNELS } from '@matchcast/protocol';
import pg from 'pg';
import { nowMs } from './stats';

export type NotifyCondition = 'notify' | 'unsigned' | 'no-notify' | 'floor' | 'no-trigger';

/**
 * Conditions alternate in short rounds, so a burst of other load cannot land on one only, and
 * each round starts at the next condition: whichever ran first after the triggers were switched
 * back on ran ~20 % slower (measured: signed vs unsigned NOTIFY, 1 writer, −21 to −28 % with
 * the signed one always first, −7 % with the order swapped), so each takes that place once.
 */
const ROUNDS = 5;

export interface NotifyCostResult {
  writers: number;
  seconds: number;
  /** Commits per second for each condition, summed over its rounds. */
  commitsPerSecond: Record<NotifyCondition, number>;
  /** How much slower the same writes are with the trigger's NOTIFY than without it. */
  notifyOverheadPercent: number;
  /** Per commit: the difference in mean commit time, µs (wall time, not CPU). */
  notifyCostPerCommitUs: number;
  notificationsReceived: number;
}

const DESCRIBE: Record<NotifyCondition, string> = {
  notify: 'outbox trigger as migrated (outbox row + signed NOTIFY)',
  unsigned: 'same trigger, its NOTIFY not signed (pg_notify of the payload, as before 018)',
  'no-notify': 'same trigger with only the PERFORM matchcast_notify(...) line removed',
  floor: 'the least any outbox trigger does: next seq, an outbox row, a NOTIFY of its id',
  'no-trigger': 'triggers disabled: the bare UPDATE',
};
export const NOTIFY_CONDITIONS = DESCRIBE;

/**
 * What the outbox trigger's NOTIFY costs a writer. The same closed-loop autocommit UPDATEs
 * (each writer its own row, as fast as it can) run under five conditions, interleaved in five
 * rounds so drift (table growth, autovacuum, other load on the machine) hits all alike:
 *  - notify: the trigger as migrated;
 *  - unsigned: matchcast_write_event calling pg_notify with the payload itself, as before 018
 *    (its signature's cost is the difference);
 *  - no-notify: matchcast_write_event (012) recreated from its own definition minus the pg_notify call,
 *    so the outbox insert, the seq counter and the JSON payload are still built and written;
 *  - floor: the migrated triggers replaced by the least a trigger-fed outbox must do per commit
 *    (the stream's next seq, an outbox row with empty data, a NOTIFY of the row id; no snapshot,
 *    payload, standings check or owner's rights): what no trimming of the migrated trigger can beat;
 *  - no-trigger: the tables' triggers disabled (what an UPDATE costs without the outbox).
 * A LISTEN connection stays open throughout, as the notify-listener's would in production.
 * Runs on the bench's throwaway database and restores the original function and triggers.
 */
export async function measureNotifyCost(url: string, matchIds: string[], writerCounts: number[], seconds: number): Promise<NotifyCostResult[]> {
  const admin = new pg.Client(url);
  const listener = new pg.Client(url);
  await Promise.all([admin.connect(), listener.connect()]);
  let received = 0;
  listener.on('notification', () => received++);
  for (const channel of NOTIFY_CHANNELS) await listener.query(`LISTEN ${channel}`);
  const { rows } = await admin.query<{ def: string }>(`SELECT pg_get_functiondef('matchcast_write_event'::regproc) AS def`);
  const original = rows[0]?.def;
  const notifyCall = /PERFORM\s+matchcast_notify\(/;
  if (!original || !notifyCall.test(original)) throw new Error('matchcast_write_event has no PERFORM matchcast_notify(...); call to change');
  const withoutNotify = original.replace(/PERFORM\s+matchcast_notify\([^;]*\);/, 'NULL; -- bench: NOTIFY removed');
  const unsigned = original.replace(notifyCall, 'PERFORM pg_notify(');

  await admin.query(FLOOR_TRIGGER);
  await listener.query(`LISTEN ${FLOOR_CHANNEL}`);
  const apply = async (condition: NotifyCondition) => {
    await admin.query(condition === 'no-notify' ? withoutNotify : condition === 'unsigned' ? unsigned : original);
    const migrated = condition === 'notify' || condition === 'unsigned' || condition === 'no-notify';
    await admin.query(`ALTER TABLE scoreboard ${migrated ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
    await admin.query(`ALTER TABLE scoreboard ${condition === 'floor' ? 'ENABLE' : 'DISABLE'} TRIGGER bench_floor`);
  };
  const results: NotifyCostResult[] = [];
  try {
    for (const writers of writerCounts) {
      const clients = await Promise.all(
        Array.from({ length: writers }, async () => {
          const client = new pg.Client(url);
          await client.connect();
          return client;
        }),
      );
      try {
        const commits: Record<NotifyCondition, number> = { notify: 0, unsigned: 0, 'no-notify': 0, floor: 0, 'no-trigger': 0 };
        const receivedBefore = received;
        const roundSeconds = seconds / ROUNDS;
        const conditions = Object.keys(DESCRIBE) as NotifyCondition[];
        for (let round = 0; round < ROUNDS; round++) {
          for (const condition of [...conditions.slice(round % conditions.length), ...conditions.slice(0, round % conditions.length)]) {
            await apply(condition);
            await burst(clients, matchIds, 0.2); // warm-up: plans cached, pages in memory
            commits[condition] += await burst(clients, matchIds, roundSeconds);
          }
        }
        const perSecond = (c: NotifyCondition) => commits[c] / seconds;
        const withNotify = perSecond('notify');
        const without = perSecond('no-notify');
        results.push({
          writers,
          seconds,
          commitsPerSecond: { notify: withNotify, unsigned: perSecond('unsigned'), 'no-notify': without, floor: perSecond('floor'), 'no-trigger': perSecond('no-trigger') },
          notifyOverheadPercent: (without / withNotify - 1) * 100,
          notifyCostPerCommitUs: (writers * 1e6) / withNotify - (writers * 1e6) / without,
          notificationsReceived: received - receivedBefore,
        });
      } finally {
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      }
    }
  } finally {
    await apply('notify').catch(() => undefined);
    // The floor bumped seqs without touching the match states (012): forget them, the next events recompute.
    await admin.query(`DROP TRIGGER bench_floor ON scoreboard; DROP FUNCTION bench_floor_emit();
                       UPDATE stream_counter SET state = NULL WHERE stream LIKE 'match:%'`).catch(() => undefined);
    await Promise.all([admin.end(), listener.end()]);
  }
  return results;
}

/** Its own channel: the notify-listener, if one runs, never sees these payloads. */
const FLOOR_CHANNEL = 'bench_floor';
const FLOOR_TRIGGER = `
  CREATE FUNCTION bench_floor_emit() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    v_seq bigint;
    v_id bigint;
  BEGIN
    UPDATE stream_counter SET last_seq = last_seq + 1 WHERE stream = 'match:' || NEW.match_id RETURNING last_seq INTO v_seq;
    INSERT INTO outbox (stream, seq, source, type, match_id, data) VALUES ('match:' || NEW.match_id, v_seq, 'scoreboard', 'match_update', NEW.match_id, '{}')
    RETURNING id INTO v_id;
    PERFORM pg_notify('${FLOOR_CHANNEL}', v_id::text);
    RETURN NULL;
  END $$;
  CREATE TRIGGER bench_floor AFTER UPDATE ON scoreboard FOR EACH ROW EXECUTE FUNCTION bench_floor_emit();
  ALTER TABLE scoreboard DISABLE TRIGGER bench_floor;`;

/** Each client updates its own match's scoreboard row in a closed loop for `seconds`; returns commits. */
async function burst(clients: pg.Client[], matchIds: string[], seconds: number): Promise<number> {
  const until = nowMs() + seconds * 1000;
  let commits = 0;
  await Promise.all(
    clients.map(async (client, i) => {
      const id = matchIds[i % matchIds.length];
      while (nowMs() < until) {
        await client.query({
          name: 'notify_cost',
          text: 'UPDATE scoreboard SET away_score = away_score + 1, updated_at = clock_timestamp() WHERE match_id = $1',
          values: [id],
        });
        commits++;
      }
    }),
  );
  return commits;
}
