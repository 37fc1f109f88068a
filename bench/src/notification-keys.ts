/**
 * `make bench-notification-keys`: what 026 (a notification's idempotency key outlives its row)
 * costs the writes of notifications (docs/benchmarks.md, "Notification keys").
 *
 * One Postgres, three databases: `before` migrated up to 025, `after` with every migration, and
 * `trigger`: after, plus a BEFORE INSERT trigger per notification row that looks the key up (the
 * design 026 measured and left: the writer looks once per call instead). The same calls run on each in
 * turn, call by call, --rounds times (each round starts with the next database), as the owner's
 * functions the API and the notifier call:
 *   - write 1: matchcast_notify_users for one recipient, a new key each call (the API's POST);
 *   - write N: the same for each of --fanout recipients (the notifier's batch of followers);
 *   - delete: matchcast_delete_notification of one recent notification (the user's DELETE; 026
 *     writes its key);
 *   - trim recent / trim old: matchcast_trim_user_notifications of --trim notifications of a user
 *     in one chunk (six users a round), created just now (026 writes every key) or 25 hours ago (026's trigger
 *     condition leaves them out without a call).
 * Measured: the backend's CPU time (/proc/<pid>/schedstat, so the bench must run on the database's
 * host) and the wall time, per call; each figure is the median of the rounds' means.
 *
 * Options: --fanout 500,1000  --rounds 7  --calls 200 (one-recipient writes and deletes a round)
 *          --batches 6 (fan-out calls a round)  --trim 1000  --out <dir>
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, migrate } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { parseFlags, positiveInt, positiveInts } from './args';
import { cleanupAll, installExitHandlers, onCleanup } from './cleanup';
import { ROOT } from './infra';
import { writeResults } from './report';
import { median, nowMs } from './stats';

interface Options {
  fanout: number[];
  rounds: number;
  calls: number;
  batches: number;
  trim: number;
  outDir: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { fanout: [500, 1000], rounds: 7, calls: 200, batches: 6, trim: 1000, outDir: join(ROOT, 'bench', 'results') };
  parseFlags(argv, (flag, value) => {
    if (flag === '--fanout') options.fanout = positiveInts(flag, value());
    else if (flag === '--rounds') options.rounds = positiveInt(flag, value());
    else if (flag === '--calls') options.calls = positiveInt(flag, value());
    else if (flag === '--batches') options.batches = positiveInt(flag, value());
    else if (flag === '--trim') options.trim = positiveInt(flag, value());
    else if (flag === '--out') options.outDir = value();
    else return false;
    return true;
  });
  return options;
}

const DATABASES = ['before', 'after', 'trigger'] as const;
/** Users trimmed a round, per kind: one chunk each. */
const TRIMS = 6;
type Database = (typeof DATABASES)[number];

/** One database's session and the CPU time its backend process has used so far (ms). */
class Session {
  private pid = 0;
  constructor(readonly client: pg.Client) {}

  async start(): Promise<this> {
    await this.client.connect();
    this.pid = (await this.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    return this;
  }

  cpuMs(): number {
    // The nanoseconds it has run on a CPU (the first field; /proc/<pid>/stat counts 10 ms ticks).
    return Number(readFileSync(`/proc/${this.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  }
}

/** The per-row alternative to 026's look-up in the writer, as it was measured. */
const ROW_TRIGGER = `
  CREATE FUNCTION bench_skip_held_key() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF EXISTS (SELECT 1 FROM notification_key k WHERE k.source_key = NEW.source_key AND k.user_id = NEW.user_id
                  AND k.created_at > now() - matchcast_notification_key_window()) THEN
      RETURN NULL;
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER bench_skip_held_key BEFORE INSERT ON notification FOR EACH ROW WHEN (NEW.source_key IS NOT NULL)
    EXECUTE FUNCTION bench_skip_held_key();`;

interface Sample {
  cpuMs: number;
  wallMs: number;
}

let keys = 0;
const notify = (db: pg.Client, users: string[]) =>
  db.query({
    name: 'notify',
    text: `SELECT count(*) FROM matchcast_notify_users($1, 'Goal! Arsenal 1–0 Chelsea', 'Saka scores for Arsenal.', 'goal', 'm1', 'ars', 'epl',
             '{"minute": 12, "score": {"home": 1, "away": 0}}', 'high', now() + interval '7 days', $2)`,
    values: [users, `outbox:${++keys}`],
  });

/** A kind of call, made ready on one database for a round: its i-th call. */
type Prepare = (db: pg.Client, round: number) => Promise<(i: number) => Promise<unknown>>;

/**
 * `calls` calls of each database in turn, call by call (a burst of other load on the machine
 * falls on all of them alike): CPU and wall time per call, per database.
 */
async function interleaved(sessions: Record<Database, Session>, round: number, calls: number, prepare: Prepare): Promise<Record<Database, Sample>> {
  const order = [...DATABASES.slice(round % DATABASES.length), ...DATABASES.slice(0, round % DATABASES.length)];
  const bodies = {} as Record<Database, (i: number) => Promise<unknown>>;
  for (const name of order) bodies[name] = await prepare(sessions[name].client, round);
  const totals = Object.fromEntries(DATABASES.map((name) => [name, { cpuMs: 0, wallMs: 0 }])) as Record<Database, Sample>;
  for (let i = 0; i < calls; i++) {
    for (const name of order) {
      const cpu = sessions[name].cpuMs();
      const started = nowMs();
      await bodies[name](i);
      totals[name].wallMs += nowMs() - started;
      totals[name].cpuMs += sessions[name].cpuMs() - cpu;
    }
  }
  for (const name of DATABASES) {
    totals[name].cpuMs /= calls;
    totals[name].wallMs /= calls;
  }
  return totals;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(30 * 60_000);
  const server = new PostgresServer();
  onCleanup('postgres', () => server.destroy());
  await server.start();
  const sessions = {} as Record<Database, Session>;
  for (const name of DATABASES) {
    const root = new pg.Client(server.url);
    await root.connect();
    await root.query(`CREATE DATABASE bench_${name}`);
    await root.end();
    const url = new URL(server.url);
    url.pathname = `/bench_${name}`;
    sessions[name] = await new Session(new pg.Client(url.toString())).start();
    onCleanup(`session ${name}`, () => sessions[name].client.end());
    await migrate(sessions[name].client, loadMigrations().filter((m) => name !== 'before' || m.version < '026'));
    if (name === 'trigger') await sessions[name].client.query(ROW_TRIGGER);
  }
  const widest = Math.max(...options.fanout);
  const followers = Array.from({ length: widest }, (_, i) => `f${i}`);
  // Every recipient's stream counter exists before the first measured call (as in a running system).
  for (const name of DATABASES) await notify(sessions[name].client, [...followers, ...Array.from({ length: 50 }, (_, i) => `s${i}`)]);

  const kinds = ['write 1', ...options.fanout.map((n) => `write ${n}`), 'delete', 'trim recent', 'trim old'];
  const samples: Record<string, Record<Database, Sample[]>> = Object.fromEntries(kinds.map((k) => [k, { before: [], after: [], trigger: [] }]));
  const measure = async (kind: string, round: number, calls: number, prepare: Prepare) => {
    const sample = await interleaved(sessions, round, calls, prepare);
    for (const name of DATABASES) samples[kind]![name].push(sample[name]);
  };
  for (let round = 0; round < options.rounds; round++) {
    await measure('write 1', round, options.calls, async (db) => (i) => notify(db, [`s${i % 50}`]));
    for (const n of options.fanout) await measure(`write ${n}`, round, options.batches, async (db) => () => notify(db, followers.slice(0, n)));
    // The one-recipient writes' newest: each deleted as its recipient would.
    await measure('delete', round, options.calls, async (db) => {
      const { rows } = await db.query<{ id: string; user_id: string }>(
        `SELECT id::text, user_id FROM notification WHERE user_id LIKE 's%' ORDER BY id DESC LIMIT $1`,
        [options.calls],
      );
      return (i) => db.query('SELECT matchcast_delete_notification($1, $2::bigint)', [rows[i]!.user_id, rows[i]!.id]);
    });
    for (const [kind, age] of [['trim recent', '0'], ['trim old', '25 hours']] as const) {
      await measure(kind, round, TRIMS, async (db) => {
        const users = Array.from({ length: TRIMS }, (_, i) => `t-${round}-${kind.replace(' ', '-')}-${i}`);
        await notify(db, users); // their stream counters
        await db.query(
          `INSERT INTO notification (user_id, title, message, type, match_id, data, created_at, source_key)
           SELECT u, 'Goal!', 'Saka scores for Arsenal.', 'goal', 'm1', '{"minute": 12}', now() - $2::interval, 'outbox:t' || i
             FROM unnest($1::text[]) u, generate_series(1, $3::int) i`,
          [users, age, options.trim],
        );
        return (i) => db.query('SELECT matchcast_trim_user_notifications($1, 0, $2)', [users[i], options.trim + 1]);
      });
    }
  }

  const load = loadavg()[0]!.toFixed(1);
  console.log(`median of ${options.rounds} rounds (load average now ${load}); CPU = the backend's, wall = the client's`);
  const results = kinds.map((kind) => {
    const mid = (name: Database, field: keyof Sample) => median(samples[kind]![name].map((s) => s[field]));
    const of = (field: keyof Sample) => Object.fromEntries(DATABASES.map((name) => [name, mid(name, field)])) as Record<Database, number>;
    const row = { kind, cpuMs: of('cpuMs'), wallMs: of('wallMs') };
    const cell = (name: Database) => {
      const extra = name === 'before' ? '' : ` (${((row.cpuMs[name] / row.cpuMs.before - 1) * 100).toFixed(0).padStart(4)} %)`;
      return `${row.cpuMs[name].toFixed(2).padStart(7)}${extra}`;
    };
    console.log(`${kind.padEnd(12)} CPU ms: ${DATABASES.map((name) => `${name} ${cell(name)}`).join('  ')}` +
      `   wall ms: ${DATABASES.map((name) => row.wallMs[name].toFixed(2)).join(' / ')}`);
    return row;
  });
  console.log(`results: ${writeResults(options.outDir, 'notification-keys', { options, load1: Number(load), results, samples })}`);
}

main()
  .catch((error: unknown) => {
    console.error('bench-notification-keys failed:', error);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
