/**
 * Property-based fuzzing of the crawler's ingest path, every part real: a provider answer in
 * football-data v4 format with generated mutations anywhere in its matches (values of any
 * JSON type, huge and negative numbers, NULs, lone surrogates, impossible dates, keys removed
 * or added) → a real HTTP server → HttpSource → Crawler → Postgres. Whatever the provider sends,
 * the crawler must go on, the database must refuse nothing it is handed (a bad match or event
 * is left out before it), and an untouched match in the same answer still lands with its score.
 * FUZZ_SEED and FUZZ_TIME_SCALE as in gateway.fuzz.test.ts.
 */
import fc from 'fast-check';
import { createLogger } from '@matchcast/runtime';
import { waitFor } from '@matchcast/testkit';
import { Registry } from 'prom-client';
import { ADAPTERS, Crawler, HttpSource, Writer, createCrawlerMetrics } from '../../services/crawler/src';
import { fdMatch, fdMatchList } from '../../services/crawler/src/feed-server/football-data-json';
import { startDatabase, type TestDatabase } from '../../services/crawler/test/db';
import { FixtureServer } from '../../services/crawler/test/fixture-server';
import { BASE_SEED, TIME_SCALE, seedFor } from './support/property';

const COMPETITION = { id: 1, code: 'PL', name: 'Premier League' };
const LIST = '/v4/competitions/PL/matches';
const logger = createLogger('provider-fuzz', 'silent');

/** A match with something at every depth: teams, score, goals, cards. */
const match = (id: number, home = 0, away = 0) =>
  fdMatch({
    id, competition: COMPETITION, utcDate: '2026-05-01T15:00:00Z', status: 'IN_PLAY', minute: 50,
    home: { id: 10 + id, name: 'Home' }, away: { id: 20 + id, name: 'Away' }, score: { home, away }, halfTime: { home: 0, away: 0 },
    goals: [{ minute: 10, team: 'home', scorer: { id: 1, name: 'Nine' } }, { minute: 40, team: 'away', scorer: { id: 2, name: 'Ten' }, type: 'PENALTY' }],
    bookings: [{ minute: 30, team: 'away', player: { id: 4, name: 'Four' }, card: 'YELLOW' }],
  });

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.constantFrom(-1, 0, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 31, 121, 999, '', ' ', 'x'.repeat(5000), 'Ni\u0000ne', 'Sev\ud800en', '2026-13-45T99:99:99Z',
    '+275760-09-13T00:00:00.000Z', '1970-01-01T00:00:00Z', 'IN_PLAY', 'FINISHED', 'POSTPONED', 'PENALTY', 'OWN', 'YELLOW', 'RED', 'YELLOW_RED', 'GREEN',
    null, true, [], {}, [null], { id: null }, { toString: 1 }, 'constructor', '__proto__'),
);

/** A change at one place in a match: a value replaced, a key removed, or a key added. */
const mutation = fc.record({ at: fc.nat(), kind: fc.constantFrom('replace', 'replace', 'delete', 'add'), value: hostileValue, key: fc.string({ maxLength: 12 }) });
const answer = fc.array(fc.record({ id: fc.integer({ min: 1, max: 6 }), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 3 });

/** Every place in a JSON tree: [the container, its key]. */
function places(value: unknown, found: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (value === null || typeof value !== 'object') return found;
  for (const key of Object.keys(value)) {
    found.push([value as Record<string, unknown>, key]);
    places((value as Record<string, unknown>)[key], found);
  }
  return found;
}

function mutate(target: Record<string, unknown>, { at, kind, value, key }: { at: number; kind: string; value: unknown; key: string }): void {
  const all = places(target);
  const [container, name] = all[at % all.length]!;
  if (kind === 'delete') delete container[name];
  else if (kind === 'add' && container[name] !== null && typeof container[name] === 'object') (container[name] as Record<string, unknown>)[key] = value;
  else container[name] = value;
}

describe('fuzz: the crawler survives hostile provider data', () => {
  let db: TestDatabase;
  let server: FixtureServer;
  let baseUrl: string;
  let runs = 0;
  let rejectedTotal = 0;
  let conflictsTotal = 0;
  /** Operations written, and matches or events left out as invalid: how far the mutations got. */
  let committedTotal = 0;
  let leftOutTotal = 0;

  beforeAll(async () => {
    console.log(`[fuzz] FUZZ_SEED=${BASE_SEED} (replay: FUZZ_SEED=${BASE_SEED} pnpm exec jest tests/fuzz/provider) time scale ${TIME_SCALE}`);
    db = await startDatabase();
    server = new FixtureServer();
    baseUrl = await server.start();
  }, 60_000);

  afterAll(async () => {
    console.log(`[fuzz] provider: ${runs} runs; ${committedTotal} operations written, ${leftOutTotal} matches or events left out as invalid, ${rejectedTotal} rejected by the database, ${conflictsTotal} refused as conflicting with a stored match (MATCH_CONFLICT: a mutated team or competition id)`);
    await server?.close();
    await db?.close();
  });

  const timeLimitMs = 25_000 * TIME_SCALE;

  it('mutated matches beside an untouched one: nothing the database refuses, the untouched one lands', async () => {
    const deadline = Date.now() + timeLimitMs;
    await fc.assert(
      fc.asyncProperty(answer, async (spec) => {
        if (Date.now() > deadline) return;
        runs++;
        // A new untouched match each run, so "it landed" is this run's doing.
        const controlId = 1000 + runs;
        const mutated = spec.map(({ id, mutations }) => {
          const body = match(id, 1, 0);
          for (const change of mutations) mutate(body, change);
          return body;
        });
        server.script(LIST, [{ body: fdMatchList(COMPETITION, [...mutated, match(controlId, 2, 1)]) }]);
        const metrics = createCrawlerMetrics(new Registry());
        const source = new HttpSource({
          adapter: ADAPTERS['football-data'], baseUrl, competitions: ['PL'], liveIntervalMs: 20, idleIntervalMs: 20, requestsPerMinute: 100_000,
          timeoutMs: 2000, maxBodyBytes: 10_000_000, backoffBaseMs: 10, backoffMaxMs: 20, matchDetails: false, logger, metrics: metrics.http,
        });
        const crawler = new Crawler({ source, writer: new Writer(db.pool), logger, metrics });
        const run = crawler.run();
        // An id the mutations made equal to the control's leaves the answer with two matches of that id.
        const clash = JSON.stringify(mutated).includes(String(controlId));
        try {
          if (!clash) {
            await waitFor(`fd-${controlId} with its score`, async () => {
              const { rows } = await db.pool.query('SELECT home_score, away_score FROM scoreboard WHERE match_id = $1', [`fd-${controlId}`]);
              return rows[0]?.home_score === 2 && rows[0]?.away_score === 1 ? true : undefined;
            }, 10_000, 20);
          } else await new Promise((r) => setTimeout(r, 200));
        } finally {
          await crawler.close();
        }
        const { rejected, conflicts, committed } = await run;
        rejectedTotal += rejected;
        conflictsTotal += conflicts;
        committedTotal += committed;
        leftOutTotal += (await metrics.http.providerErrors.get()).values.find((v) => v.labels.code === 'PROVIDER_INVALID')?.value ?? 0;
        expect(rejected).toBe(0);
      }),
      { seed: seedFor('provider'), numRuns: Math.round(150 * TIME_SCALE), endOnFailure: true },
    );
  }, timeLimitMs + 60_000);
});
