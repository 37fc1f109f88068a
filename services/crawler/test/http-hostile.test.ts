/**
 * Hostile provider data through the whole HTTP path, every part real: a scripted provider (a
 * real HTTP server, football-data v4 format) → HttpSource → Crawler → Postgres. Whatever the
 * provider sends, nothing reaches the database that it would refuse: a bad event is left out and
 * the rest of its match (the score above all) is written; a bad match is left out, the others
 * written; no operation is rejected by the database.
 */
import { createLogger, type Logger } from '@matchcast/runtime';
import { waitFor } from '@matchcast/testkit';
import { Registry } from 'prom-client';
import { ADAPTERS, Crawler, HttpSource, Writer, createCrawlerMetrics, type CrawlerMetrics } from '../src';
import { fdMatch, fdMatchList, type FdMatchSpec } from '../src/feed-server/football-data-json';
import { startDatabase, type TestDatabase } from './db';
import { FixtureServer, type Step } from './fixture-server';

const logger = createLogger('http-hostile-test', process.env.DEBUG_LOG ? 'debug' : 'silent');
const COMPETITION = { id: 1, code: 'PL', name: 'Premier League' };
const LIST = '/v4/competitions/PL/matches';

let db: TestDatabase;
let server: FixtureServer;
let baseUrl: string;
beforeAll(async () => {
  db = await startDatabase();
});
afterAll(() => db?.close());
beforeEach(async () => {
  server = new FixtureServer();
  baseUrl = await server.start();
});
afterEach(() => server.close());

const match = (id: number, change: Partial<FdMatchSpec> = {}) =>
  fdMatch({ id, competition: COMPETITION, utcDate: '2026-05-01T15:00:00Z', status: 'IN_PLAY', home: { id: id * 10 + 1, name: 'Home' }, away: { id: id * 10 + 2, name: 'Away' }, score: { home: 0, away: 0 }, ...change });

/** Runs a crawler over the scripted provider until `done` holds, then stops it. */
async function crawl(
  steps: Step[],
  done: () => Promise<boolean>,
  options: { logger?: Logger; adapter?: keyof typeof ADAPTERS } = {},
): Promise<{ metrics: CrawlerMetrics; rejected: number }> {
  const adapter = ADAPTERS[options.adapter ?? 'football-data'];
  server.script(adapter.listPaths(['PL'])[0]!, steps);
  const metrics = createCrawlerMetrics(new Registry());
  const source = new HttpSource({
    adapter,
    baseUrl,
    competitions: ['PL'],
    liveIntervalMs: 30,
    idleIntervalMs: 30,
    requestsPerMinute: 10_000,
    timeoutMs: 2000,
    maxBodyBytes: 1_000_000,
    backoffBaseMs: 20,
    backoffMaxMs: 50,
    matchDetails: false,
    logger: options.logger ?? logger,
    metrics: metrics.http,
  });
  const crawler = new Crawler({ source, writer: new Writer(db.pool), logger: options.logger ?? logger, metrics });
  const run = crawler.run();
  try {
    await waitFor('the expected state', async () => ((await done()) ? true : undefined), 15_000);
  } finally {
    await crawler.close();
  }
  return { metrics, rejected: (await run).rejected };
}

const status = async (id: string) => (await db.pool.query(`SELECT status FROM match WHERE id = $1`, [id])).rows[0]?.status;
const score = async (id: string) => (await db.pool.query(`SELECT home_score AS home, away_score AS away FROM scoreboard WHERE match_id = $1`, [id])).rows[0];
const events = async (id: string) =>
  (await db.pool.query(`SELECT type, minute, player, player_in, detail->>'event_id' AS event_id FROM football_event WHERE match_id = $1 ORDER BY minute, id`, [id])).rows;
const providerInvalid = async (metrics: CrawlerMetrics) => (await metrics.http.providerErrors.get()).values.find((v) => v.labels.code === 'PROVIDER_INVALID')?.value ?? 0;

describe('HTTP source into Postgres: hostile provider data', () => {
  it('a bad event (NUL, lone surrogate, unknown card) is left out: a new match, its good events and the score still land, and the score moves on', async () => {
    const nul = { minute: 20, team: 'home' as const, scorer: { id: 2, name: 'Ni\u0000ne' } };
    const surrogate = { minute: 25, team: 'home' as const, scorer: { id: 3, name: 'Sev\ud800en' } };
    const first = match(1, {
      score: { home: 3, away: 0 },
      goals: [{ minute: 10, team: 'home', scorer: { id: 1, name: 'Nine' } }, nul, surrogate],
      bookings: [{ minute: 30, team: 'away', player: { id: 4, name: 'Four' }, card: 'YELLOW' }],
    });
    (first.bookings as unknown[]).push({ minute: 31, team: { id: 12 }, player: { id: 5, name: 'Five' }, card: 'GREEN' });
    const later = match(1, {
      score: { home: 4, away: 0 },
      minute: 61,
      goals: [{ minute: 10, team: 'home', scorer: { id: 1, name: 'Nine' } }, nul, surrogate, { minute: 60, team: 'home', scorer: { id: 6, name: 'Ten' } }],
      bookings: [{ minute: 30, team: 'away', player: { id: 4, name: 'Four' }, card: 'YELLOW' }],
    });
    const { metrics, rejected } = await crawl(
      [
        { body: fdMatchList(COMPETITION, [first]), etag: '"1"' },
        { body: fdMatchList(COMPETITION, [later]), etag: '"2"' },
      ],
      async () => (await score('fd-1'))?.home === 4,
    );
    expect(await score('fd-1')).toEqual({ home: 4, away: 0 });
    expect((await events('fd-1')).map((e) => [e.type, e.minute, e.player])).toEqual([
      ['goal', 10, 'Nine'],
      ['yellow_card', 30, 'Four'],
      ['goal', 60, 'Ten'],
    ]);
    expect(rejected).toBe(0);
    // Two bad goals and a bad card in the first answer, the two goals again in the second (then 304s).
    expect(await providerInvalid(metrics)).toBe(5);
  });

  it('long provider ids: two substitutions at the same minute are two events, written once however often polled', async () => {
    const [big, out] = [1234567890123, 9007199254740991];
    const raw = match(6, { home: { id: big, name: 'Home' }, score: { home: 1, away: 0 }, goals: [{ minute: 5, team: 'home', scorer: { id: out, name: 'Nine' } }] });
    raw.substitutions = [
      { minute: 65, team: { id: big }, playerOut: { id: out, name: 'Nine' }, playerIn: { id: 9007199254740981, name: 'Seven' } },
      { minute: 65, team: { id: big }, playerOut: { id: out, name: 'Nine' }, playerIn: { id: 9007199254740982, name: 'Eight' } },
    ];
    const { rejected } = await crawl([{ body: fdMatchList(COMPETITION, [raw]) }], async () => (await events('fd-6')).length === 3 && server.requests.length >= 5);
    expect((await events('fd-6')).map((e) => [e.type, e.minute, e.player, e.player_in])).toEqual([
      ['goal', 5, 'Nine', null],
      ['substitution', 65, 'Nine', 'Seven'],
      ['substitution', 65, 'Nine', 'Eight'],
    ]);
    expect(rejected).toBe(0);
  });

  it('a match the source forgot (unlisted for a while) and hands on again writes nothing twice', async () => {
    const scored = match(7, { score: { home: 1, away: 0 }, goals: [{ minute: 9, team: 'home', scorer: { id: 1, name: 'Nine' } }] });
    const other = { body: fdMatchList(COMPETITION, [match(8)]) };
    const { rejected } = await crawl([{ body: fdMatchList(COMPETITION, [scored]) }, other, other, other, other, { body: fdMatchList(COMPETITION, [scored, match(8)]) }], async () =>
      server.remaining(LIST) === 0 && server.requests.length >= 10,
    );
    expect((await events('fd-7')).map((e) => [e.type, e.minute, e.player])).toEqual([['goal', 9, 'Nine']]);
    const { rows } = await db.pool.query(`SELECT type, count(*)::int AS n FROM outbox WHERE stream = 'match:fd-7' GROUP BY type ORDER BY type`);
    expect(rows).toEqual([
      { type: 'match_event', n: 1 },
      { type: 'match_status', n: 2 },
      { type: 'match_update', n: 1 },
    ]);
    expect(rejected).toBe(0);
  });

  it('a match with an impossible kick-off is left out before the database; the other match is written', async () => {
    const bad = [match(2, { utcDate: '2026-02-30T15:00:00Z' }), match(3, { utcDate: '0000-05-01T15:00:00Z' }), match(4, { utcDate: '2026-05-01T15:00:00+23:00' })];
    const { metrics, rejected } = await crawl([{ body: fdMatchList(COMPETITION, [...bad, match(5)]) }], async () => (await status('fd-5')) === 'live');
    const { rows } = await db.pool.query(`SELECT id FROM match WHERE id IN ('fd-2', 'fd-3', 'fd-4', 'fd-5')`);
    expect(rows).toEqual([{ id: 'fd-5' }]);
    expect(rejected).toBe(0);
    expect(await providerInvalid(metrics)).toBeGreaterThanOrEqual(3);
  });

  it('an answer of thousands of bad matches, with a card nested too deep to print and megabytes quoted, is a few short log lines a poll; the crawler goes on', async () => {
    const lines: string[] = [];
    // Each log call as the JSON line it would be.
    const capture: Logger = new Proxy({} as Logger, {
      get: (_target, name) => (name === 'child' ? () => capture : (fields: object | string, message?: string) => void lines.push(JSON.stringify({ ...(typeof fields === 'object' ? fields : {}), msg: message ?? fields }))),
    });
    // A card that is an array nested 10,000 deep: 20 KB of JSON, more than String() can print.
    const cards = match(9, { score: { home: 1, away: 0 }, goals: [{ minute: 5, team: 'home', scorer: { id: 1, name: 'Nine' } }] });
    cards.bookings = [{ minute: 7, team: { id: 91 }, player: { id: 2, name: 'Two' }, card: 'DEEP' }];
    const bad = Array.from({ length: 1000 }, (_, i) => match(1000 + i, { utcDate: '2026-02-30T15:00:00Z' }));
    const raw = JSON.stringify(fdMatchList(COMPETITION, [cards, ...bad, match(10)])).replace('"DEEP"', '['.repeat(10_000) + ']'.repeat(10_000));
    const { metrics, rejected } = await crawl(
      [{ raw }],
      async () => (await events('fd-9')).length === 1 && (await status('fd-10')) === 'live' && server.requests.length >= 3,
      { logger: capture },
    );
    expect(rejected).toBe(0);
    expect(await score('fd-9')).toEqual({ home: 1, away: 0 });
    // Every problem of every answer read counted; per answer at most 5 logged and one line
    // summing up the rest. The last answer served may not have been read when the crawler
    // stopped (it was once, under CI load), so the answers read are one fewer at most.
    const polls = server.requests.filter((r) => r.status === 200).length;
    const invalid = await providerInvalid(metrics);
    expect(invalid % 1001).toBe(0);
    const read = invalid / 1001;
    expect(read).toBeGreaterThanOrEqual(Math.max(1, polls - 1));
    expect(read).toBeLessThanOrEqual(polls);
    const problemLines = lines.filter((line) => /provider (match rejected|event dropped|answer had more problems)/.test(line));
    expect(problemLines.length).toBe(6 * read);
    expect(lines.filter((line) => line.includes('feed source failed'))).toEqual([]);

    // A problem that quotes the provider (the generic mapping's unknown field, a 500 KB key) is cut in the log.
    lines.length = 0;
    const asked = server.requests.length;
    const key = 'k'.repeat(500_000);
    const generic = { id: 'g1', status: 'live', kickoff_at: '2026-05-01T15:00:00Z', home_team: { id: 'h', name: 'H' }, away_team: { id: 'a', name: 'A' }, league: { id: 'l', name: 'L' }, score: { home: 0, away: 0 }, [key]: 1 };
    await crawl([{ body: { matches: [generic] } }], async () => server.requests.length >= asked + 2, { logger: capture, adapter: 'generic' });
    const rejectedLine = lines.find((line) => line.includes('provider match rejected'));
    expect(rejectedLine).toBeDefined();
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(2000);
  });
});
