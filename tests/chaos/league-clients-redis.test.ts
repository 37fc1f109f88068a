/**
 * Chaos, the client half of the competitions: @matchcast/client instances follow the tables of
 * three leagues (createLeagueTable: GET /api/leagues/{id}/table, then league:<id> with resume)
 * over two gateways, one of them also on `all`, while a writer finishes matches, corrects
 * finished scores, scores live goals and postpones or moves fixtures in a loop across the
 * leagues. redis-server is SIGKILLed in the middle and restarted: both gateways fall back to
 * their own LISTEN and come back. Every client must end with exactly the outbox: per league
 * stream the same league_table events (seq and table) in order, per stream of every channel it
 * holds (match streams too) the outbox's seqs, each table store at the API's final table, and
 * no disconnect, gap or duplicate.
 */
import pg from 'pg';
import WebSocket from 'ws';
import { MatchcastClient, createLeagueTable, type DeliveredMessage, type LeagueTable } from '@matchcast/client';
import { routeEvent } from '@matchcast/protocol';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';
import { maxOutboxId } from '../harness/verify';

const LEAGUES = ['ca', 'cb', 'cc'];
const TEAMS = 6;
const FIXTURES = 40; // per league
const PLAYED = Array.from({ length: FIXTURES }, (_, i) => i + 1).filter((n) => n % 5 !== 0);
const CORRECTED = PLAYED.filter((n) => n % 3 === 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Follower {
  name: string;
  channels: string[];
  client: MatchcastClient;
  tables: Map<string, LeagueTable>;
  /** Every event any handler of this client got: stream, seq, channel, type, data. */
  received: DeliveredMessage[];
  /** league_table events each table store applied, by league. */
  applied: Map<string, { seq: number; rows: unknown }[]>;
  states: string[];
}

describe('chaos: Redis killed under league table clients', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  const gateways: GatewayProcess[] = [];
  const followers: Follower[] = [];
  let apiUrl: string;
  let before: string;
  let writer: pg.Client;

  async function follow(name: string, gateway: GatewayProcess, leagues: string[], extra: string[] = []): Promise<Follower> {
    const client = new MatchcastClient({ url: gateway.wsUrl, WebSocket: WebSocket as never, backoff: { baseMs: 100, maxMs: 500 } });
    const follower: Follower = { name, channels: [...leagues.map((id) => `league:${id}`), ...extra], client, tables: new Map(), received: [], applied: new Map(), states: [] };
    client.on('state', (state) => follower.states.push(state));
    const record = (event: DeliveredMessage) => void follower.received.push(event);
    for (const id of leagues) {
      const table = createLeagueTable(client, { baseUrl: apiUrl, leagueId: id });
      follower.applied.set(id, []);
      table.on('change', ({ event }) => event && follower.applied.get(id)!.push({ seq: event.seq, rows: (event.data as { rows: unknown }).rows }));
      await table.ready;
      follower.tables.set(id, table);
      client.subscribe(`league:${id}`, record); // the league's match events (a scoreboard's part)
    }
    for (const channel of extra) client.subscribe(channel, record);
    client.connect();
    followers.push(follower);
    return follower;
  }

  beforeAll(async () => {
    await infra.start(true);
    for (const id of LEAGUES) {
      await infra.db.query(`INSERT INTO league (id, name) VALUES ($1, $2)`, [id, `League ${id.toUpperCase()}`]);
      await infra.db.query(`INSERT INTO team (id, league_id, name) SELECT $1 || i, $1, 'Team ' || upper($1) || ' ' || i FROM generate_series(1, ${TEAMS}) i`, [id]);
      // Fixtures between pairs of teams, all live (scoreboard rows at 0-0) so goals and results can come in any order.
      await infra.db.query(
        `INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
         SELECT $1 || 'm' || n, $1, $1 || (n % ${TEAMS} + 1), $1 || ((n + 1 + (n / ${TEAMS}) % (${TEAMS} - 1)) % ${TEAMS} + 1),
                now() + n * interval '1 hour', CASE WHEN n % 5 = 0 THEN 'scheduled' ELSE 'live' END
           FROM generate_series(1, ${FIXTURES}) n`,
        [id],
      );
      await infra.db.query(`INSERT INTO scoreboard (match_id) SELECT id FROM match WHERE league_id = $1 AND status = 'live'`, [id]);
    }
    const db = { DATABASE_URL: infra.postgres.url };
    processes.push(new ServiceProcess('notify-listener', { ...db, REDIS_URL: infra.redis.url, LISTENER_PORT: String(await freePort()) }, 'listener-league-clients').start());
    for (const name of ['gateway-league-clients-a', 'gateway-league-clients-b']) {
      gateways.push(new GatewayProcess(await freePort(), await freePort(), { ...db, REDIS_URL: infra.redis.url }, name).start());
    }
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    processes.push(new ServiceProcess('api', { ...db, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: '0', AUTH_JWT_SECRET: 'league-clients-secret-0123456789abcdef' }, 'api-league-clients').start());
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    await waitFor('the API', async () => ((await fetch(`${apiUrl}/api/leagues/ca/table`).catch(() => undefined))?.ok ? true : undefined), 20_000);
    await waitFor('gateways on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 20_000);

    writer = new pg.Client(infra.postgres.url);
    await writer.connect();
    before = await maxOutboxId(infra.db);
    await follow('all three leagues on a', gateways[0]!, LEAGUES);
    await follow('ca and all on a', gateways[0]!, ['ca'], ['all']);
    await follow('cb and cc on b', gateways[1]!, ['cb', 'cc']);
    await follow('all three leagues on b', gateways[1]!, LEAGUES);
    await waitFor('every client live', async () => (followers.every((f) => f.client.state === 'live') ? true : undefined), 15_000);
  }, 120_000);

  afterAll(async () => {
    for (const follower of followers) follower.client.close();
    await writer?.end();
    await Promise.all([...gateways, ...processes].map((p) => p.stop()));
    await infra.destroy();
  }, 60_000);

  /** One transaction of the writer: the n-th step of the loop, in league `id`. */
  async function step(id: string, n: number): Promise<void> {
    const match = `${id}m${n}`;
    if (n % 5 === 0) {
      // A fixture not yet played: postponed, or moved half an hour (schedule_update, no table change).
      await writer.query(n % 10 === 0 ? `UPDATE match SET status = 'postponed' WHERE id = $1` : `UPDATE match SET kickoff_at = kickoff_at + interval '30 minutes' WHERE id = $1`, [match]);
      return;
    }
    // A live goal (no table change), then the result: one league_table.
    await writer.query(`UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = $1`, [match]);
    await writer.query('BEGIN');
    await writer.query(`UPDATE scoreboard SET away_score = ${n % 3} WHERE match_id = $1`, [match]);
    await writer.query(`UPDATE match SET status = 'finished' WHERE id = $1`, [match]);
    await writer.query('COMMIT');
    // Some results are corrected afterwards: another league_table.
    if (CORRECTED.includes(n)) await writer.query(`UPDATE scoreboard SET away_score = away_score + 2 WHERE match_id = $1`, [match]);
  }

  it('every client ends with exactly the outbox: league tables in order and with the same rows, every stream at its last seq', async () => {
    const modes: string[][] = [];
    const finished = async () => (await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM match WHERE status = 'finished'`)).rows[0]!.n;
    const progress: Record<string, number> = {};
    const writes = (async () => {
      for (let n = 1; n <= FIXTURES; n++) {
        for (const id of LEAGUES) await step(id, n);
        await sleep(150);
      }
    })();
    await waitFor('results under way', async () => {
      const { rows } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM match WHERE status = 'finished'`);
      return (rows[0]?.n ?? 0) >= 15 ? true : undefined;
    }, 30_000, 20);
    progress.killed = await finished();
    await infra.redis.kill();
    await waitFor('both gateways on their own LISTEN', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'postgres') ? true : undefined), 10_000, 50);
    modes.push(['postgres', 'postgres']);
    await sleep(1500);
    progress.restarted = await finished();
    await infra.redis.start();
    await waitFor('gateways back on Redis', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined), 30_000, 100);
    modes.push(['redis', 'redis']);
    progress.back = await finished();
    await writes;
    console.log(`[league-clients-redis] results finished: ${JSON.stringify(progress)} of ${LEAGUES.length * PLAYED.length}`);
    // Results were published before, during and after the outage.
    expect(progress.killed).toBeLessThan(progress.restarted!);
    expect(progress.back).toBeLessThan(LEAGUES.length * PLAYED.length);
    // Writes went on across the whole outage and after the switch back.
    const { rows: done } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM match WHERE status = 'finished'`);
    expect(done[0]!.n).toBe(LEAGUES.length * PLAYED.length);

    const { rows } = await infra.db.query<{ id: string; stream: string; seq: number; type: string; match_id: string | null; data: any }>(
      `SELECT id::text, stream, seq::int, type, match_id, data FROM outbox WHERE id > $1 ORDER BY id`,
      [before],
    );
    const tables = (id: string) => rows.filter((row) => row.stream === `league:${id}`).map((row) => ({ seq: row.seq, rows: row.data.rows }));
    for (const id of LEAGUES) {
      // One league_table per result and per correction, none for goals or schedule changes.
      expect(rows.filter((row) => row.stream === `league:${id}`).every((row) => row.type === 'league_table')).toBe(true);
      expect(tables(id)).toHaveLength(PLAYED.length + CORRECTED.length);
    }
    expect(rows.filter((row) => row.type === 'schedule_update')).toHaveLength(LEAGUES.length * (FIXTURES / 5));

    // Per client, per stream: the seqs of the outbox's events routed to its channels.
    const expected = followers.map((f) => {
      const wanted = new Set(f.channels);
      const byStream = new Map<string, number[]>();
      for (const row of rows) if (routeEvent(row).some((channel) => wanted.has(channel))) byStream.set(row.stream, [...(byStream.get(row.stream) ?? []), row.seq]);
      return byStream;
    });
    const caughtUp = (f: Follower, i: number) => [...expected[i]!].every(([stream, seqs]) => f.client.position(stream) === seqs.at(-1));
    await waitFor('every client caught up', async () => (followers.every(caughtUp) ? true : undefined), 60_000, 200);
    await sleep(500);

    const problems: string[] = [];
    for (const [i, f] of followers.entries()) {
      const got = new Map<string, number[]>();
      for (const event of f.received) got.set(event.stream, [...(got.get(event.stream) ?? []), event.seq]);
      for (const id of f.tables.keys()) got.set(`league:${id}`, f.applied.get(id)!.map((t) => t.seq));
      for (const stream of new Set([...expected[i]!.keys(), ...got.keys()])) {
        const want = expected[i]!.get(stream) ?? [];
        if (JSON.stringify(got.get(stream) ?? []) !== JSON.stringify(want)) problems.push(`${f.name}: ${stream} got ${JSON.stringify(got.get(stream))}, outbox ${JSON.stringify(want)}`);
        if (want.length > 0 && f.client.position(stream) !== want.at(-1)) problems.push(`${f.name}: ${stream} at ${f.client.position(stream)}, outbox ${want.at(-1)}`);
      }
      for (const [id, table] of f.tables) {
        if (JSON.stringify(f.applied.get(id)) !== JSON.stringify(tables(id))) problems.push(`${f.name}: league ${id}'s tables differ from the outbox's`);
        const final = (await (await fetch(`${apiUrl}/api/leagues/${id}/table`)).json()) as { rows: unknown; stream_seq: number };
        if (table.seq !== final.stream_seq || JSON.stringify(table.rows) !== JSON.stringify(final.rows)) problems.push(`${f.name}: league ${id} ends at seq ${table.seq}, not the API's ${final.stream_seq}`);
      }
      const { connects, gaps, duplicates, resets } = f.client.diagnostics;
      if (connects !== 1 || gaps !== 0 || duplicates !== 0 || resets !== 0) problems.push(`${f.name}: ${JSON.stringify({ connects, gaps, duplicates, resets })}`);
      if (f.states.join('→') !== 'connecting→live') problems.push(`${f.name}: states ${f.states.join('→')}`);
    }
    expect(problems).toEqual([]);
    expect(modes).toEqual([['postgres', 'postgres'], ['redis', 'redis']]);
  }, 180_000);
});
