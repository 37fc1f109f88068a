import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@matchcast/runtime';
import pg from 'pg';
import { Registry } from 'prom-client';
import {
  Crawler,
  FeedError,
  Recorder,
  ReplaySource,
  Simulator,
  SimulatorSource,
  Writer,
  createCrawlerMetrics,
  readFeed,
  type FeedOp,
  type SimulatorOptions,
} from '../src';
import { expectContiguous, outbox, startDatabase, type TestDatabase } from './db';

const SAMPLE = join(__dirname, '..', 'feeds', 'sample.jsonl');
const logger = createLogger('crawler-test', 'silent');
const tmp = mkdtempSync(join(tmpdir(), 'matchcast-crawler-'));

let db: TestDatabase;
beforeAll(async () => {
  db = await startDatabase();
});
afterAll(() => db?.close());

/** What a sequence of ops must leave in the database, computed without a database. */
interface Expected {
  matches: Map<string, { status: string; home: number; away: number; events: number; players: number; outbox: number }>;
  /** Per match, the score each goal's match_event must show. */
  goalScores: Map<string, { home: number; away: number }[]>;
}

function expectedState(ops: FeedOp[]): Expected {
  const matches: Expected['matches'] = new Map();
  const goalScores: Expected['goalScores'] = new Map();
  const clocks = new Map<string, string>();
  const kickoffs = new Map<string, string>();
  // Lineup players by match, counted by "team:name": a goal or card of one also updates their
  // player_match row, unless two players of the team share the name.
  const lineups = new Map<string, Map<string, number>>();
  const inLineup = (matchId: string, team: string, name: string | undefined) => name !== undefined && lineups.get(matchId)?.get(`${team}:${name}`) === 1;
  for (const op of ops) {
    if (op.op === 'fixture') {
      const known = matches.get(op.match_id);
      if (known) {
        // The fixture again (the simulator's reschedule): a new kickoff is a match_update and a schedule_update.
        if (kickoffs.get(op.match_id) !== op.kickoff_at) known.outbox += 2;
      } else {
        matches.set(op.match_id, { status: 'scheduled', home: 0, away: 0, events: 0, players: 0, outbox: 1 });
        goalScores.set(op.match_id, []);
      }
      kickoffs.set(op.match_id, op.kickoff_at);
      continue;
    }
    const m = matches.get(op.match_id);
    if (!m) throw new Error(`op before fixture: ${JSON.stringify(op)}`);
    switch (op.op) {
      case 'status':
        if (op.status !== m.status) m.outbox++;
        // Postponed and cancelled also send a schedule_update (005).
        if (op.status !== m.status && (op.status === 'postponed' || op.status === 'cancelled')) m.outbox++;
        m.status = op.status;
        break;
      case 'clock': {
        const key = JSON.stringify([op.minute, op.period, op.stoppage_minutes ?? 0, op.running]);
        if (clocks.get(op.match_id) !== key) m.outbox++;
        clocks.set(op.match_id, key);
        break;
      }
      case 'goal':
        m[op.team]++;
        m.events++;
        m.outbox += 2;
        if (op.kind !== 'own_goal' && inLineup(op.match_id, op.team, op.player)) m.outbox++;
        if (inLineup(op.match_id, op.team, op.assist)) m.outbox++;
        goalScores.get(op.match_id)?.push({ home: m.home, away: m.away });
        break;
      case 'card':
        if (inLineup(op.match_id, op.team, op.player)) m.outbox++;
        m.events++;
        m.outbox++;
        break;
      case 'substitution':
        m.events++;
        m.outbox++;
        break;
      case 'lineup':
        for (const p of op.players) {
          const names = lineups.get(op.match_id) ?? new Map<string, number>();
          names.set(`${p.team}:${p.name}`, (names.get(`${p.team}:${p.name}`) ?? 0) + 1);
          lineups.set(op.match_id, names);
        }
        m.players += op.players.length;
        m.outbox += op.players.length;
        break;
      case 'playclock':
      case 'matchdata':
        m.outbox++;
        break;
    }
  }
  return { matches, goalScores };
}

async function expectDatabaseMatches(prefix: string, expected: Expected): Promise<void> {
  const { rows } = await db.pool.query(
    `SELECT m.id, m.status, COALESCE(s.home_score, 0) AS home, COALESCE(s.away_score, 0) AS away,
       (SELECT count(*)::int FROM football_event e WHERE e.match_id = m.id) AS events,
       (SELECT count(*)::int FROM player_match p WHERE p.match_id = m.id) AS players
     FROM match m LEFT JOIN scoreboard s ON s.match_id = m.id WHERE m.id LIKE $1`,
    [`${prefix}%`],
  );
  const actual = new Map(rows.map((r) => [r.id.slice(prefix.length), { status: r.status, home: r.home, away: r.away, events: r.events, players: r.players }]));
  const wanted = new Map([...expected.matches].map(([id, m]) => [id, { status: m.status, home: m.home, away: m.away, events: m.events, players: m.players }]));
  expect(actual).toEqual(wanted);

  const streams = await expectContiguous(db.pool, prefix);
  expect(new Map([...streams].map(([stream, n]) => [stream.slice(`match:${prefix}`.length), n]))).toEqual(
    new Map([...expected.matches].map(([id, m]) => [id, m.outbox])),
  );
  // Each goal's match_event shows the score including that goal.
  const events = await outbox(db.pool, prefix);
  for (const [id, scores] of expected.goalScores) {
    const goals = events.filter((e) => e.match_id === `${prefix}${id}` && e.type === 'match_event' && /goal$/.test(e.data.event.type));
    expect(goals.map((e) => e.data.score)).toEqual(scores);
  }
}

const SIM: SimulatorOptions = {
  seed: 7,
  eventsPerSecond: 5000,
  leagues: 2,
  teamsPerLeague: 6,
  concurrentMatches: 4,
  // About as many ticks per match minute as four matches need: several full matches in N ops.
  matchMinuteMs: 1,
  startedAt: Date.UTC(2025, 0, 1),
};

describe('Crawler', () => {
  const recording = join(tmp, 'recording.jsonl');
  const N = 1200;

  it('runs N simulator operations into the database: rows, outbox and metrics as the ops say', async () => {
    const registry = new Registry();
    const metrics = createCrawlerMetrics(registry);
    const recorder = Recorder.open(recording);
    const crawler = new Crawler({
      source: new SimulatorSource(new Simulator(SIM)),
      writer: new Writer(db.pool),
      logger,
      metrics,
      recorder,
      maxEvents: N,
      idPrefix: 'sim1_',
      maxInFlight: 4,
    });
    const stats = await crawler.run();
    await recorder.close();
    expect(stats).toMatchObject({ dispatched: N, committed: N, rejected: 0, duplicates: 0, abandoned: 0 });

    const simulator = new Simulator(SIM);
    const ops = Array.from({ length: N }, () => simulator.step());
    const expected = expectedState(ops);
    expect(expected.matches.size).toBeGreaterThanOrEqual(5);
    expect([...expected.matches.values()].some((m) => m.status === 'finished')).toBe(true);
    expect([...expected.goalScores.values()].flat().length).toBeGreaterThan(0);
    await expectDatabaseMatches('sim1_', expected);

    const counted = (await metrics.transactions.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(counted).toBe(N);
    const lastCommit = (await metrics.lastCommit.get()).values[0]!.value;
    expect(lastCommit).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(lastCommit).toBeLessThanOrEqual(Date.now() / 1000);
    const goals = (await metrics.transactions.get()).values.find((v) => v.labels.op === 'goal')?.value;
    expect(goals).toBe(ops.filter((op) => op.op === 'goal').length);

    // The recording holds every op, unprefixed; per match in feed order.
    const recorded = readFileSync(recording, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as FeedOp);
    expect(recorded).toHaveLength(N);
    for (const id of expected.matches.keys()) {
      expect(recorded.filter((op) => op.match_id === id)).toEqual(ops.filter((op) => op.match_id === id));
    }
  });

  it('replays its own recording into the same state', async () => {
    const source = await ReplaySource.open(recording, { speed: 0 });
    const crawler = new Crawler({ source, writer: new Writer(db.pool), logger, idPrefix: 'rep1_' });
    expect(await crawler.run()).toMatchObject({ dispatched: N, committed: N, rejected: 0 });
    const ops: FeedOp[] = [];
    for await (const op of readFeed(recording)) ops.push(op);
    await expectDatabaseMatches('rep1_', expectedState(ops));
  });

  it('replays the shipped sample feed: it writes what it says', async () => {
    const ops: FeedOp[] = [];
    for await (const op of readFeed(SAMPLE)) ops.push(op);
    const kinds = new Set(ops.map((op) => op.op));
    expect([...kinds].sort()).toEqual(['card', 'clock', 'fixture', 'goal', 'lineup', 'matchdata', 'playclock', 'status', 'substitution']);
    const source = await ReplaySource.open(SAMPLE, { speed: 0 });
    expect(source.operations).toBe(ops.length);
    const crawler = new Crawler({ source, writer: new Writer(db.pool), logger, idPrefix: 'smp_' });
    expect(await crawler.run()).toMatchObject({ dispatched: ops.length, committed: ops.length, rejected: 0 });
    const expected = expectedState(ops);
    expect([...expected.matches.values()].map((m) => m.status)).toEqual(['finished', 'finished']);
    await expectDatabaseMatches('smp_', expected);
  });

  it('replays at the recorded timing when speed is 1', async () => {
    const file = join(tmp, 'timed.jsonl');
    const fixture = readFileSync(SAMPLE, 'utf8').split('\n').find((line) => line.includes('"op":"fixture"')) as string;
    const matchId = (JSON.parse(fixture) as FeedOp).match_id;
    writeFileSync(
      file,
      [
        { ...JSON.parse(fixture), at_ms: 0 },
        { op: 'status', match_id: matchId, status: 'live', at_ms: 300 },
        { op: 'clock', match_id: matchId, minute: 1, period: 'first_half', at_ms: 600 },
      ]
        .map((op) => JSON.stringify(op))
        .join('\n'),
    );
    const started = Date.now();
    const crawler = new Crawler({ source: await ReplaySource.open(file, { speed: 1 }), writer: new Writer(db.pool), logger, idPrefix: 'tim_' });
    expect(await crawler.run()).toMatchObject({ committed: 3 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(580);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a feed with a malformed line before writing anything, naming file and line', async () => {
    const file = join(tmp, 'bad.jsonl');
    writeFileSync(
      file,
      [
        '# a comment',
        JSON.stringify({ op: 'fixture', match_id: 'x1', kickoff_at: '2025-01-01T00:00:00Z', league: { id: 'l', name: 'L' }, home: { id: 'a', name: 'A' }, away: { id: 'b', name: 'B' } }),
        '{"op":"status","match_id":"x1","status":"live"',
        '{"op":"status","match_id":"x1","status":"finished"}',
      ].join('\n'),
    );
    const error = await ReplaySource.open(file, { speed: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FeedError);
    expect(error).toMatchObject({ code: 'FEED_INVALID', line: 3, file });
    expect((error as Error).message).toMatch(new RegExp(`^${file}:3: not valid JSON`));

    writeFileSync(file, '{"op":"status","match_id":"x1","status":"live","minute":3}\n');
    await expect(ReplaySource.open(file, { speed: 0 })).rejects.toThrow(`${file}:1: minute is not a known field`);
    await expect(ReplaySource.open(join(tmp, 'missing.jsonl'), { speed: 0 })).rejects.toMatchObject({ code: 'FEED_UNREADABLE' });
    // Before: a directory passed the access check and the crawler died with a bare "EISDIR: illegal operation on a directory, read".
    await expect(ReplaySource.open(tmp, { speed: 0 })).rejects.toMatchObject({ code: 'FEED_UNREADABLE', message: `cannot read feed file ${tmp}: not a file` });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM match WHERE id = 'x1'`);
    expect(rows[0].n).toBe(0);
  });

  it('skips and counts an operation the database rejects, and carries on', async () => {
    const file = join(tmp, 'orphan.jsonl');
    const fixture = { op: 'fixture', match_id: 'o1', kickoff_at: '2025-01-01T00:00:00Z', league: { id: 'l', name: 'L' }, home: { id: 'a', name: 'A' }, away: { id: 'b', name: 'B' } };
    writeFileSync(
      file,
      [fixture, { op: 'goal', match_id: 'ghost', minute: 1, team: 'home', player: 'P' }, { op: 'status', match_id: 'o1', status: 'live' }]
        .map((op) => JSON.stringify(op))
        .join('\n'),
    );
    const registry = new Registry();
    const metrics = createCrawlerMetrics(registry);
    const crawler = new Crawler({ source: await ReplaySource.open(file, { speed: 0 }), writer: new Writer(db.pool), logger, metrics, idPrefix: 'orp_' });
    expect(await crawler.run()).toMatchObject({ dispatched: 3, committed: 2, rejected: 1 });
    expect((await metrics.errors.get()).values.find((v) => v.labels.kind === 'rejected')?.value).toBe(1);
    const { rows } = await db.pool.query(`SELECT status FROM match WHERE id = 'orp_o1'`);
    expect(rows).toEqual([{ status: 'live' }]);
  });

  it('stops promptly on close(), and close() is safe twice', async () => {
    const crawler = new Crawler({
      source: new SimulatorSource(new Simulator({ ...SIM, eventsPerSecond: 5 })),
      writer: new Writer(db.pool),
      logger,
      idPrefix: 'cls_',
    });
    const run = crawler.run();
    await new Promise((r) => setTimeout(r, 300));
    expect(crawler.ready).toBe(true);
    const started = Date.now();
    await Promise.all([crawler.close(), crawler.close()]);
    const stats = await run;
    expect(Date.now() - started).toBeLessThan(500);
    expect(stats.dispatched).toBeGreaterThanOrEqual(1);
    expect(stats.committed).toBe(stats.dispatched);
    expect(crawler.ready).toBe(false);
  });

  // Last: it stops and restarts the shared server.
  it('retries transient database errors with backoff until the database is back, losing nothing', async () => {
    const pool = new pg.Pool({ connectionString: db.server.url, max: 2, connectionTimeoutMillis: 1000 });
    pool.on('error', () => undefined);
    const registry = new Registry();
    const metrics = createCrawlerMetrics(registry);
    await db.server.stop();
    const crawler = new Crawler({
      source: await ReplaySource.open(SAMPLE, { speed: 0 }),
      writer: new Writer(pool),
      logger,
      metrics,
      idPrefix: 'rty_',
      maxEvents: 40,
      maxInFlight: 2,
      retryBaseMs: 20,
      retryMaxMs: 100,
    });
    const run = crawler.run();
    const deadline = Date.now() + 5000;
    while (crawler.snapshot().retries < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(crawler.ready).toBe(false);
    await db.server.start();
    const stats = await run;
    await pool.end();
    expect(stats).toMatchObject({ dispatched: 40, committed: 40, rejected: 0, abandoned: 0 });
    expect(stats.retries).toBeGreaterThanOrEqual(3);
    expect((await metrics.errors.get()).values.find((v) => v.labels.kind === 'transient')?.value).toBe(stats.retries);

    const ops: FeedOp[] = [];
    for await (const op of readFeed(SAMPLE)) if (ops.length < 40) ops.push(op);
    await expectDatabaseMatches('rty_', expectedState(ops));
  });
});
