/**
 * The HTTP source against a real local HTTP server playing scripted answers: request headers
 * (credential, conditional), politeness (provider quota, adaptive interval), the body-size cap,
 * the generic adapter and the per-match detail resource.
 */
import { createLogger } from '@matchcast/runtime';
import { waitFor } from '@matchcast/testkit';
import { Registry } from 'prom-client';
import { ADAPTERS, HttpSource, createCrawlerMetrics, type HttpSourceOptions, type SnapshotOp } from '../src';
import { fdMatch, fdMatchList } from '../src/feed-server/football-data-json';
import { FixtureServer } from './fixture-server';

const logger = createLogger('http-source-test', process.env.DEBUG_LOG ? 'debug' : 'silent');
const COMPETITION = { id: 1, code: 'PL', name: 'Premier League' };
const LIST = '/v4/competitions/PL/matches';
const soon = () => new Date(Date.now() + 3_600_000).toISOString();

const fd = (id: number, status: 'TIMED' | 'IN_PLAY' = 'TIMED', utcDate = '2026-05-01T15:00:00Z') =>
  fdMatch({ id, competition: COMPETITION, utcDate, status, home: { id: id * 10 + 1, name: 'Home' }, away: { id: id * 10 + 2, name: 'Away' }, score: { home: 0, away: 0 } });

let server: FixtureServer;
let baseUrl: string;
beforeEach(async () => {
  server = new FixtureServer();
  baseUrl = await server.start();
});
afterEach(() => server.close());

function source(options: Partial<HttpSourceOptions> = {}) {
  const metrics = createCrawlerMetrics(new Registry());
  const src = new HttpSource({
    adapter: ADAPTERS['football-data'],
    baseUrl,
    competitions: ['PL'],
    liveIntervalMs: 50,
    idleIntervalMs: 50,
    requestsPerMinute: 1000,
    timeoutMs: 1000,
    maxBodyBytes: 100_000,
    backoffBaseMs: 20,
    backoffMaxMs: 50,
    matchDetails: false,
    logger,
    metrics: metrics.http,
    ...options,
  });
  return { src, metrics: metrics.http };
}

/** The ops a source hands on within `ms`. */
async function collect(src: HttpSource, ms: number): Promise<SnapshotOp[]> {
  const ops: SnapshotOp[] = [];
  const abort = AbortSignal.timeout(ms);
  for (;;) {
    const op = await src.next(abort);
    if (!op) return ops;
    ops.push(op as SnapshotOp);
  }
}

const errors = async (metrics: ReturnType<typeof source>['metrics'], code: string) => (await metrics.providerErrors.get()).values.find((v) => v.labels.code === code)?.value;

describe('HttpSource', () => {
  it('sends the credential in the provider header and asks conditionally; unchanged data is handed on twice only (unconfirmed, confirmed)', async () => {
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(1)]), etag: '"v1"', headers: { 'last-modified': 'Fri, 01 May 2026 12:00:00 GMT' } }]);
    const { src, metrics } = source({ token: 'tok-123' });
    // Long enough for several rounds even when the process's first fetch() is slow to load.
    const ops = await collect(src, 1500);
    expect(ops.map((o) => [o.match_id, o.status, o.confirmed])).toEqual([
      ['fd-1', 'scheduled', false],
      ['fd-1', 'scheduled', true],
    ]);
    expect(server.requests.length).toBeGreaterThan(3);
    expect(server.requests.every((r) => r.headers['x-auth-token'] === 'tok-123')).toBe(true);
    expect(server.requests[0]?.headers['if-none-match']).toBeUndefined();
    expect(server.requests[1]?.headers).toMatchObject({ 'if-none-match': '"v1"', 'if-modified-since': 'Fri, 01 May 2026 12:00:00 GMT' });
    expect(server.requests.slice(1).every((r) => r.status === 304)).toBe(true);
    // The last request may still be on its way back when the collection's time is up.
    const notModified = (await metrics.polls.get()).values.find((v) => v.labels.result === 'not_modified')?.value;
    expect([server.requests.length - 1, server.requests.length - 2]).toContain(notModified);
  });

  it('refuses a body over the size cap with PROVIDER_BODY_TOO_LARGE and hands on nothing', async () => {
    const big = fdMatchList(COMPETITION, Array.from({ length: 200 }, (_, i) => fd(i + 1)));
    server.script(LIST, [{ body: big }]);
    const { src, metrics } = source({ maxBodyBytes: 10_000 });
    expect(await collect(src, 500)).toEqual([]);
    expect(await errors(metrics, 'PROVIDER_BODY_TOO_LARGE')).toBeGreaterThan(0);
  });

  it("rejects absurd values match by match (PROVIDER_INVALID), keeping the rest", async () => {
    const absurd = { ...fd(2), score: { fullTime: { home: 4000, away: 0 }, halfTime: { home: 0, away: 0 } } };
    const backwards = { ...fd(3), score: { fullTime: { home: 1, away: 0 }, halfTime: { home: 2, away: 0 } } };
    const unknownStatus = { ...fd(4), status: 'EXPLODED' };
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [absurd, fd(1), backwards, unknownStatus]), etag: '"x"' }]);
    const { src, metrics } = source();
    const ops = await collect(src, 600);
    expect([...new Set(ops.map((o) => o.match_id))]).toEqual(['fd-1']);
    expect(await errors(metrics, 'PROVIDER_INVALID')).toBe(3);
  });

  it('does not follow a redirect (the credential would go along): PROVIDER_UNREACHABLE', async () => {
    const elsewhere = new FixtureServer();
    const other = await elsewhere.start();
    elsewhere.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(1)]) }]);
    server.script(LIST, [{ status: 302, headers: { location: `${other}${LIST}` } }]);
    const { src, metrics } = source({ token: 'tok-123' });
    expect(await collect(src, 500)).toEqual([]);
    expect(elsewhere.requests).toEqual([]);
    expect(await errors(metrics, 'PROVIDER_UNREACHABLE')).toBeGreaterThan(0);
    await elsewhere.close();
  });

  it("obeys the provider's quota headers: none left → no request until the counter resets", async () => {
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(1)]), headers: { 'x-requests-available-minute': '0', 'x-requestcounter-reset': '1' } }]);
    const { src, metrics } = source();
    await collect(src, 1500);
    const [first, second] = server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect((await metrics.rateLimitWaits.get()).values.find((v) => v.labels.reason === 'provider_quota')?.value).toBeGreaterThanOrEqual(1);
  });

  it('polls fast while a match is live or about to start, slowly otherwise', async () => {
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(1, 'TIMED', '2030-01-01T15:00:00Z')]) }]);
    const idle = source({ liveIntervalMs: 30, idleIntervalMs: 400 });
    await collect(idle.src, 1000);
    expect(server.requests.length).toBeLessThanOrEqual(3);
    server.requests.length = 0;
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(1, 'TIMED', soon())]) }]);
    const kickoffSoon = source({ liveIntervalMs: 30, idleIntervalMs: 10 * 3_600_000 });
    await collect(kickoffSoon.src, 1000);
    expect(server.requests.length).toBeGreaterThanOrEqual(10);
  });

  it('fetches the detail resource of a live match for its goals and cards', async () => {
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(7, 'IN_PLAY')]) }]);
    server.script('/v4/matches/7', [
      {
        body: fdMatch({
          id: 7,
          competition: COMPETITION,
          utcDate: '2026-05-01T15:00:00Z',
          status: 'IN_PLAY',
          home: { id: 71, name: 'Home' },
          away: { id: 72, name: 'Away' },
          score: { home: 1, away: 0 },
          goals: [{ minute: 9, team: 'home', scorer: { id: 5, name: 'Striker' }, assist: { id: 6, name: 'Winger' } }],
          bookings: [{ minute: 20, team: 'away', player: { id: 8, name: 'Stopper' }, card: 'YELLOW_RED' }],
        }),
      },
    ]);
    const { src } = source({ matchDetails: true });
    const [op] = await collect(src, 600);
    expect(op).toMatchObject({
      match_id: 'fd-7',
      status: 'live',
      score: { home: 1, away: 0 },
      events: [
        { event_id: 'fd-goal-9-0-71-5-0', kind: 'goal', minute: 9, team: 'home', player: 'Striker', assist: 'Winger' },
        { event_id: 'fd-red_card-20-0-72-8-0', kind: 'red_card', minute: 20, team: 'away', player: 'Stopper' },
      ],
    });
  });

  it("one competition that always fails backs off alone: the others' live matches (and their details) are still polled at the live interval", async () => {
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(7, 'IN_PLAY')]) }]);
    server.script('/v4/matches/7', [{ body: fd(7, 'IN_PLAY') }]);
    server.script('/v4/competitions/CL/matches', [{ status: 500, raw: 'down' }]);
    const { src } = source({ competitions: ['PL', 'CL'], matchDetails: true, liveIntervalMs: 50, backoffBaseMs: 400, backoffMaxMs: 5000 });
    await collect(src, 1500);
    const count = (path: string) => server.requests.filter((r) => r.path === path).length;
    // Before: every round waited the failing list's backoff (400, 800, 1600 ms…): 3 polls of PL, no details.
    expect(count(LIST)).toBeGreaterThanOrEqual(10);
    expect(count('/v4/matches/7')).toBeGreaterThanOrEqual(10);
    expect(count('/v4/competitions/CL/matches')).toBeLessThanOrEqual(4);
  });

  it("a match's detail answer about another match is refused (PROVIDER_INVALID): it neither replaces the listed match nor writes the other", async () => {
    server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(7, 'IN_PLAY'), fd(8, 'TIMED')]) }]);
    // /v4/matches/7 answers with match 8, live and 5-0 (a mixed-up cache, a hostile provider).
    server.script('/v4/matches/7', [{ body: { ...fd(8, 'IN_PLAY'), score: { fullTime: { home: 5, away: 0 }, halfTime: { home: 0, away: 0 } } } }]);
    const { src, metrics } = source({ matchDetails: true });
    const ops = await collect(src, 600);
    expect(ops.filter((o) => o.match_id === 'fd-8').every((o) => o.status === 'scheduled' && o.score.home === 0)).toBe(true);
    expect(ops.filter((o) => o.match_id === 'fd-7').length).toBeGreaterThan(0);
    expect(await errors(metrics, 'PROVIDER_INVALID')).toBeGreaterThan(0);
  });

  describe('memory follows the provider: what it stops listing is forgotten', () => {
    /** What the source remembers: the size of each of its maps (per match, and `resources` per URL). */
    const remembered = (src: HttpSource) =>
      Object.fromEntries(Object.entries(src).flatMap(([name, value]) => (value instanceof Map ? [[name, value.size]] : [])));
    /** A new live match on every poll, 30 polls long (then the last repeats), as a hostile provider might. */
    const churn = (path: string, code = 'PL') => {
      const ids = Array.from({ length: 30 }, (_, i) => 100 + i);
      server.script(path, ids.map((id) => ({ body: fdMatchList({ ...COMPETITION, code }, [fd(id, 'IN_PLAY')]) })));
      for (const id of ids) server.script(`/v4/matches/${id}`, [{ body: fd(id, 'IN_PLAY') }]);
    };

    /** Pulls from the source until the churn script has been served and `moreRequests` after it, then stops. */
    async function runChurn(src: HttpSource, moreRequests: number): Promise<SnapshotOp[]> {
      const abort = new AbortController();
      const ops: SnapshotOp[] = [];
      const pulling = (async () => {
        for (let op = await src.next(abort.signal); op; op = await src.next(abort.signal)) ops.push(op);
      })();
      await waitFor('every step served', async () => (server.remaining(LIST) === 0 ? server.requests.length : undefined), 10_000);
      const served = server.requests.length;
      await waitFor('more rounds of the last step', async () => (server.requests.length >= served + moreRequests ? true : undefined), 10_000);
      abort.abort();
      await pulling;
      return ops;
    }

    it('a new match id on every poll: once the provider lists one match, the source remembers one match and its two resources', async () => {
      churn(LIST);
      const { src } = source({ matchDetails: true });
      const ops = await runChurn(src, 10);
      expect(new Set(ops.map((o) => o.match_id)).size).toBe(30);
      expect(remembered(src)).toEqual({ resources: 2, backoffs: 0, previous: 1, emitted: 1, lastListed: 1 });
    });

    it('also when another list fails on every poll', async () => {
      churn(LIST);
      server.script('/v4/competitions/CL/matches', [{ status: 500, raw: 'down' }]);
      const { src } = source({ competitions: ['PL', 'CL'] });
      await runChurn(src, 10);
      expect(remembered(src)).toEqual({ resources: 1, backoffs: 1, previous: 1, emitted: 1, lastListed: 1 });
    });

    it('a match listed again after it was forgotten is handed on again, unconfirmed', async () => {
      const gone = Array.from({ length: 4 }, () => ({ body: fdMatchList(COMPETITION, [fd(2)]) }));
      server.script(LIST, [{ body: fdMatchList(COMPETITION, [fd(1)]) }, ...gone, { body: fdMatchList(COMPETITION, [fd(1), fd(2)]) }]);
      const { src } = source();
      const ops = await collect(src, 1500);
      expect(ops.filter((o) => o.match_id === 'fd-1').map((o) => o.confirmed)).toEqual([false, false, true]);
    });
  });

  it('maps the generic JSON format, with its own credential header', async () => {
    const fields = {
      kickoff_at: '2026-05-01T15:00:00Z',
      league: { id: 'cup', name: 'Cup' },
      home: { id: 'h', name: 'H' },
      away: { id: 'a', name: 'A' },
      status: 'live',
      score: { home: 2, away: 1 },
      minute: 70,
    };
    const matches = [{ id: 'g-1', ...fields, updated_at: '2026-05-01T16:10:00Z' }, { id: 'g-2', kickoff_at: 'soon' }];
    server.script('/competitions/cup/matches', [{ body: { matches } }]);
    const { src, metrics } = source({ adapter: ADAPTERS.generic, competitions: ['cup'], token: 'Bearer abc' });
    const [op] = await collect(src, 600);
    expect(op).toEqual({ op: 'snapshot', match_id: 'g-1', ...fields, provider_updated_at: '2026-05-01T16:10:00Z', confirmed: false });
    expect(server.requests[0]?.headers.authorization).toBe('Bearer abc');
    expect(await errors(metrics, 'PROVIDER_INVALID')).toBeGreaterThanOrEqual(1);
  });
});
