/**
 * 011 makes the outbox path cheaper without changing what it produces: the same writes give the
 * same outbox rows and byte-identical NOTIFY payloads under the functions before 011 and after.
 * One database: migrated up to 010, a scripted set of writes on one league and match; then 011
 * and every later migration applied and the same writes on a second league and match with ids
 * of the same length (018 adds a signature member to each payload, and nothing else).
 */
import { loadMigrations, migrate } from '@matchcast/db';
import { NOTIFY_CHANNELS } from '@matchcast/protocol';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';

const BIG = 'x'.repeat(9000);

/** Every kind of match event, a no-op update, a multi-row transaction, a finished match's table, a large payload. */
async function writeScript(db: pg.Client, p: string): Promise<void> {
  const run = (sql: string) => db.query(sql.replaceAll('$p', p));
  await run(`INSERT INTO league (id, name) VALUES ('$pl', 'League');
    INSERT INTO team (id, league_id, name) VALUES ('$ph', '$pl', 'Home'), ('$pw', '$pl', 'Away')`);
  await run(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('$pm', '$pl', '$ph', '$pw', '2026-11-30T15:00:00Z')`);
  await run(`INSERT INTO scoreboard (match_id, updated_at) VALUES ('$pm', '2026-11-30T15:00:00Z')`);
  await run(`INSERT INTO gameclock (match_id, updated_at) VALUES ('$pm', '2026-11-30T15:00:00Z')`);
  await run(`UPDATE match SET status = 'live' WHERE id = '$pm'`);
  await run(`UPDATE scoreboard SET home_score = 1 WHERE match_id = '$pm'`);
  await run(`UPDATE scoreboard SET home_score = 1 WHERE match_id = '$pm'`); // no-op: no event
  await run(`UPDATE gameclock SET minute = 10, period = 'first_half', running = true WHERE match_id = '$pm'`);
  await run(`INSERT INTO playclock (match_id, seconds, updated_at) VALUES ('$pm', 24, '2026-11-30T15:00:00Z')`);
  await run(`INSERT INTO matchdata (match_id, venue, attendance) VALUES ('$pm', 'Ground', 30000)`);
  await run(`INSERT INTO player_match (match_id, player_id, team, player_name, goals) VALUES ('$pm', 'p1', 'home', 'Nine', 1)`);
  await run(`INSERT INTO football_event (id, match_id, minute, type, team, player) VALUES (7, '$pm', 9, 'goal', 'home', 'Nine')`);
  await run(`BEGIN; UPDATE scoreboard SET away_score = 1 WHERE match_id = '$pm'; UPDATE gameclock SET minute = 45 WHERE match_id = '$pm'; COMMIT`);
  await run(`UPDATE matchdata SET extra = jsonb_build_object('note', '${BIG}') WHERE match_id = '$pm'`);
  await run(`UPDATE match SET status = 'finished' WHERE id = '$pm'`);
  await run(`UPDATE scoreboard SET away_score = 2 WHERE match_id = '$pm'`); // a result changes: league_table
  await run(`DELETE FROM football_event WHERE id = 7`); // frees the id for the second run
}

interface Produced {
  rows: string[];
  payloads: string[];
  signed: number;
}

describe('011: leaner outbox triggers, same events', () => {
  let server: PostgresServer;
  let db: pg.Client;
  let listener: pg.Client;
  const received: string[] = [];

  beforeAll(async () => {
    server = await new PostgresServer().start();
    db = new pg.Client(server.url);
    listener = new pg.Client(server.url);
    await Promise.all([db.connect(), listener.connect()]);
    listener.on('notification', (n) => received.push(`${n.channel} ${n.payload ?? ''}`));
    for (const channel of NOTIFY_CHANNELS) await listener.query(`LISTEN ${channel}`);
  });

  afterAll(async () => {
    await Promise.all([db.end(), listener.end()]);
    await server.destroy();
  });

  /** The run's rows and payloads with its own ids written as X, outbox ids and times dropped. */
  async function produce(p: string): Promise<Produced> {
    received.length = 0;
    await writeScript(db, p);
    const { rows } = await db.query<{ row: string }>(
      `SELECT json_build_array(stream, seq, source, type, match_id, data)::text AS row FROM outbox
        WHERE stream IN ($1, $2) ORDER BY stream, seq`,
      [`match:${p}m`, `league:${p}l`],
    );
    // Notifications arrive in commit order: once this one is in, every earlier one is too.
    const sentinel = `sentinel ${p}`;
    await db.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNELS[0], sentinel]);
    await waitFor('the notifications', async () => (received.some((r) => r.endsWith(sentinel)) ? true : undefined), 10_000, 20);
    received.pop();
    const own = new RegExp(`([":])${p}([mlhw])"`, 'g');
    // 018's signature member (its MAC covers the ids and times dropped here) is counted, not compared.
    const normalize = (text: string) =>
      text
        .replace(own, '$1X$2"')
        .replace(/"id" ?: ?"\d+"/g, '"id":"ID"')
        .replace(/"timestamp" ?: ?"[^"]+"/g, '"timestamp":"T"')
        .replace(/,"mac":"[^"]+"\}$/, '}');
    return { rows: rows.map((r) => normalize(r.row)), payloads: received.map(normalize), signed: received.filter((r) => r.includes(',"mac":"')).length };
  }

  it('gives the same outbox rows and byte-identical payloads as the functions it replaces', async () => {
    await migrate(db, loadMigrations().filter((m) => m.version < '011'));
    const before = await produce('b');
    await migrate(db);
    const { rows } = await db.query<{ def: string }>(`SELECT pg_get_functiondef('matchcast_standing_trigger'::regproc) AS def`);
    expect(rows[0]!.def).toContain('IF v_leagues IS NULL THEN'); // 011 is in place
    const after = await produce('a');

    // Every write but the league, the teams, the no-op and the delete is a match event; the
    // league's table changes when the teams arrive, the match finishes and its score moves.
    expect(before.rows.filter((r) => r.startsWith('["match:'))).toHaveLength(15);
    expect(before.rows.filter((r) => r.startsWith('["league:'))).toHaveLength(3);
    expect(before.payloads.filter((p) => /"ref" ?: ?true/.test(p))).toHaveLength(1);
    expect(after.rows).toEqual(before.rows);
    expect(after.payloads).toEqual(before.payloads);
    expect([before.signed, after.signed]).toEqual([0, after.payloads.length]);
  });

  it("keeps the standings check: a finished match's score change or delete refreshes the table, a live one's does not", async () => {
    const head = async () => (await db.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE stream = 'league:al'`)).rows[0]!.n;
    const finished = await head();
    await db.query(`UPDATE scoreboard SET home_score = 3 WHERE match_id = 'am'`);
    expect(Number(await head())).toBe(Number(finished) + 1);
    await db.query(`UPDATE match SET status = 'live' WHERE id = 'am'`); // no longer a result: table changes once
    const live = await head();
    await db.query(`UPDATE scoreboard SET home_score = 4 WHERE match_id = 'am'`);
    expect(await head()).toBe(live);
    await db.query(`UPDATE match SET status = 'finished' WHERE id = 'am'`);
    const finishedAgain = Number(await head());
    expect(finishedAgain).toBe(Number(live) + 1);
    await db.query(`DELETE FROM scoreboard WHERE match_id = 'am'`); // the delete path reads OLD
    expect(Number(await head())).toBe(finishedAgain + 1);
  });
});
