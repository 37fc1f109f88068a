/**
 * The HTTP source end to end, every part real: a scripted provider (a real HTTP server in this
 * process, football-data v4 format) → crawler process → Postgres → gateway (PG-LISTEN mode) →
 * a WebSocket client. One crawler polls nine competitions, one scenario each; every scenario
 * asserts the exact events its match sends to the client, and that the provider's repeats
 * (the last step of each script is served forever) send nothing more.
 */
import { TestClient } from '../../services/gateway/test/support';
import { FixtureServer, httpSourceEnv, type Step } from '../../services/crawler/test/fixture-server';
import { fdMatch, fdMatchList, type FdMatchSpec } from '../../services/crawler/src/feed-server/football-data-json';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const KICKOFF = '2026-05-01T15:00:00Z';
const TOKEN = 'fixture-secret-token-4711';

/** Each competition's one match: provider id 490 (A1) … 570 (I9); its teams are id + 1 and id + 2. */
const providerId = (code: string) => code.charCodeAt(1) * 10;
const matchId = (code: string) => `fd-${providerId(code)}`;

/** A match of competition `code` in football-data's format, with `change` on top. */
function match(code: string, change: Partial<FdMatchSpec> = {}): Record<string, unknown> {
  const n = providerId(code);
  return fdMatch({
    id: n,
    competition: { id: n, code, name: `Cup ${code}` },
    utcDate: KICKOFF,
    status: 'TIMED',
    home: { id: n + 1, name: `Home ${code}`, tla: 'HOM' },
    away: { id: n + 2, name: `Away ${code}`, tla: 'AWY' },
    ...change,
  });
}

const list = (code: string, ...matches: Record<string, unknown>[]) => fdMatchList({ id: 1, code, name: `Cup ${code}` }, matches);
const path = (code: string) => `/v4/competitions/${code}/matches`;
const goal = (minute: number, team: 'home' | 'away', name: string) => ({ minute, team, scorer: { id: minute, name } });

/** What a client's message says, in a few words: enough to compare whole sequences. */
function summary(m: any): string {
  switch (m.type) {
    case 'match_status':
      return `status ${m.data.status}`;
    case 'match_event':
      return `event ${m.data.event.type} ${m.data.event.minute}' ${m.data.event.team} ${m.data.event.player ?? '-'} ${m.data.score.home}-${m.data.score.away}`;
    case 'match_update':
      return m.data.update_type === 'score' ? `score ${m.data.score.home}-${m.data.score.away}` : `update ${m.data.update_type}`;
    default:
      return m.type;
  }
}

describe('HTTP source: scripted provider → crawler → gateway → WebSocket', () => {
  const infra = new Infra();
  const provider = new FixtureServer();
  const services: ServiceProcess[] = [];
  let gateway: GatewayProcess;
  let client: TestClient;
  let crawlerPort: number;

  const eventsOf = (code: string) =>
    client.messages.filter((m) => m.match_id === matchId(code) && typeof m.seq === 'number').map(summary);

  const scripts: Record<string, Step[]> = {
    // Normal progress; unchanged data answered 304 (ETag) twice.
    A1: [
      { body: list('A1', match('A1')), etag: '"a1-1"' },
      { body: list('A1', match('A1')), etag: '"a1-1"' },
      { body: list('A1', match('A1', { status: 'IN_PLAY', score: { home: 0, away: 0 } })), etag: '"a1-2"' },
      { body: list('A1', match('A1', { status: 'IN_PLAY', score: { home: 1, away: 0 }, goals: [goal(12, 'home', 'Kane')] })), etag: '"a1-3"' },
      { body: list('A1', match('A1', { status: 'PAUSED', score: { home: 1, away: 0 }, goals: [goal(12, 'home', 'Kane')] })), etag: '"a1-4"' },
      { body: list('A1', match('A1', { status: 'IN_PLAY', score: { home: 1, away: 1 }, goals: [goal(12, 'home', 'Kane'), goal(61, 'away', 'Saka')] })), etag: '"a1-5"' },
      { body: list('A1', match('A1', { status: 'FINISHED', score: { home: 1, away: 1 }, goals: [goal(12, 'home', 'Kane'), goal(61, 'away', 'Saka')] })), etag: '"a1-6"' },
    ],
    // 429 with Retry-After: 1 s, then the data.
    B2: [
      { status: 429, headers: { 'retry-after': '1' }, body: { message: 'You reached your request limit.' } },
      { body: list('B2', match('B2', { status: 'IN_PLAY', score: { home: 0, away: 0 } })) },
    ],
    // Two 500s, then the data.
    C3: [{ status: 500, raw: 'oops' }, { status: 502, raw: '<html>bad gateway</html>' }, { body: list('C3', match('C3')) }],
    // An answer slower than CRAWLER_HTTP_TIMEOUT_MS, then the data.
    D4: [{ delayMs: 6000, body: list('D4', match('D4', { status: 'FINISHED', score: { home: 9, away: 9 } })) }, { body: list('D4', match('D4')) }],
    // Malformed JSON, then the data.
    E5: [{ raw: '{"matches": [{"id": 1,' }, { body: list('E5', match('E5')) }],
    // One of two matches lacks its home team: only the other is written.
    F6: [{ body: list('F6', { ...match('F6'), id: 999, homeTeam: undefined }, match('F6')), etag: '"f6"' }],
    // A goal, then VAR takes it back: the drop is held for one poll, then confirmed.
    G7: [
      { body: list('G7', match('G7', { status: 'IN_PLAY', score: { home: 0, away: 0 } })) },
      { body: list('G7', match('G7', { status: 'IN_PLAY', score: { home: 1, away: 0 }, goals: [goal(30, 'home', 'Isak')] })) },
      { body: list('G7', match('G7', { status: 'IN_PLAY', score: { home: 0, away: 0 }, goals: [], minute: 33 })) },
    ],
    // A postponement.
    H8: [{ body: list('H8', match('H8')) }, { body: list('H8', match('H8', { status: 'POSTPONED' })) }],
    // A one-poll glitch: IN_PLAY → TIMED → IN_PLAY. The TIMED is held and never written.
    I9: [
      { body: list('I9', match('I9', { status: 'IN_PLAY', score: { home: 0, away: 0 } })) },
      { body: list('I9', match('I9', { status: 'TIMED' })) },
      { body: list('I9', match('I9', { status: 'IN_PLAY', score: { home: 0, away: 0 } })) },
    ],
  };

  beforeAll(async () => {
    await infra.start(false);
    for (const [code, steps] of Object.entries(scripts)) provider.script(path(code), steps);
    const baseUrl = await provider.start();
    gateway = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url }, 'gateway-crawler-http');
    services.push(gateway.start());
    await gateway.ready();
    client = new TestClient(gateway.wsUrl);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['all'] });
    await client.next((m) => m.type === 'subscribed');

    crawlerPort = await freePort();
    services.push(
      new ServiceProcess(
        'crawler',
        httpSourceEnv(infra.postgres.url, crawlerPort, baseUrl, Object.keys(scripts), {
          CRAWLER_HTTP_TOKEN: TOKEN,
          // Well above a loaded machine's stalls, well below D4's slow answer.
          CRAWLER_HTTP_TIMEOUT_MS: '2000',
          CRAWLER_HTTP_LIVE_INTERVAL_MS: '150',
          CRAWLER_HTTP_IDLE_INTERVAL_MS: '150',
          CRAWLER_HTTP_BACKOFF_BASE_MS: '100',
          CRAWLER_HTTP_BACKOFF_MAX_MS: '400',
        }),
        'crawler-http',
      ).start(),
    );
    // Every script played to its last step, then a few more rounds of repeats.
    await waitFor('every script served', async () => (Object.keys(scripts).every((c) => provider.remaining(path(c)) === 0) ? true : undefined), 30_000);
    const served = provider.requests.length;
    const repeats = (code: string) => provider.requests.slice(served).filter((r) => r.path === path(code)).length;
    await waitFor('three more polls of each', async () => (Object.keys(scripts).every((c) => repeats(c) >= 3) ? true : undefined), 15_000);
  }, 90_000);

  afterAll(async () => {
    client?.ws.close();
    await Promise.all(services.map((s) => s.stop()));
    await provider.close();
    await infra.destroy();
  });

  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${crawlerPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return Number(line?.split(' ').pop() ?? NaN);
  };

  it('normal match progress: each change once, in order; unchanged data is asked conditionally and answered 304', () => {
    expect(eventsOf('A1')).toEqual([
      'status scheduled',
      'status live',
      'score 1-0',
      "event goal 12' home Kane 1-0",
      'status half_time',
      'status live',
      'score 1-1',
      "event goal 61' away Saka 1-1",
      'status finished',
    ]);
    const a1 = provider.requests.filter((r) => r.path === path('A1'));
    expect(a1[1]).toMatchObject({ status: 304 });
    expect(a1[1]?.headers['if-none-match']).toBe('"a1-1"');
    // The final answer repeats as 304s: asked with its ETag every time.
    expect(a1.slice(-3).map((r) => r.status)).toEqual([304, 304, 304]);
    expect(a1.every((r) => r.headers['x-auth-token'] === TOKEN)).toBe(true);
  });

  it('counts polls, 304s and errors by code in /metrics', async () => {
    expect(await metric('matchcast_crawler_http_polls_total', 'result="not_modified"')).toBeGreaterThanOrEqual(4);
    expect(await metric('matchcast_crawler_http_errors_total', 'code="PROVIDER_HTTP_ERROR"')).toBe(2);
    expect(await metric('matchcast_crawler_http_errors_total', 'code="PROVIDER_RATE_LIMITED"')).toBe(1);
    expect(await metric('matchcast_crawler_http_errors_total', 'code="PROVIDER_TIMEOUT"')).toBe(1);
    expect(await metric('matchcast_crawler_http_errors_total', 'code="PROVIDER_MALFORMED_JSON"')).toBe(1);
    expect(await metric('matchcast_crawler_http_errors_total', 'code="PROVIDER_INVALID"')).toBe(1);
    expect(await metric('matchcast_crawler_regressions_held_total', 'field="score"')).toBe(1);
    expect(await metric('matchcast_crawler_regressions_held_total', 'field="status"')).toBe(1);
    expect(await metric('matchcast_crawler_provider_lag_seconds_count', '')).toBeGreaterThan(0);
  });

  it('429 with Retry-After: no request to the provider for that long, then the data', async () => {
    expect(eventsOf('B2')).toEqual(['status scheduled', 'status live']);
    const at429 = provider.requests.find((r) => r.status === 429)!.at;
    const next = provider.requests.find((r) => r.at > at429);
    expect(next!.at - at429).toBeGreaterThanOrEqual(950);
    expect(await metric('matchcast_crawler_http_rate_limit_waits_total', 'reason="retry_after"')).toBeGreaterThanOrEqual(1);
  });

  it('500s: nothing written, retried with growing backoff, then the data', () => {
    expect(eventsOf('C3')).toEqual(['status scheduled']);
    const c3 = provider.requests.filter((r) => r.path === path('C3'));
    expect(c3.slice(0, 3).map((r) => r.status)).toEqual([500, 502, 200]);
  });

  it('a timeout: the slow answer is abandoned (never written), then the data', () => {
    // The slow step said FINISHED 9-9; the crawler gave up on it, so only the next answer counts.
    expect(eventsOf('D4')).toEqual(['status scheduled']);
  });

  it('malformed JSON: nothing written, then the data', () => {
    expect(eventsOf('E5')).toEqual(['status scheduled']);
  });

  it('a missing field: that match is rejected, the other one written', async () => {
    expect(eventsOf('F6')).toEqual(['status scheduled']);
    const { rows } = await infra.db.query(`SELECT id FROM match WHERE league_id = 'fd-F6'`);
    expect(rows.map((r) => r.id)).toEqual([matchId('F6')]);
  });

  it('a score correction: the drop is held one poll, then written with a var event', () => {
    expect(eventsOf('G7')).toEqual([
      'status scheduled',
      'status live',
      'score 1-0',
      "event goal 30' home Isak 1-0",
      // The first 0-0 is held (only the clock is new); the second confirms it.
      'update clock',
      'score 0-0',
      "event var 33' home - 0-0",
    ]);
  });

  it('a postponement: the status and the schedule change', () => {
    expect(eventsOf('H8')).toEqual(['status scheduled', 'status postponed', 'schedule_update']);
  });

  it('a status going backwards for one poll is held and never written', () => {
    expect(eventsOf('I9')).toEqual(['status scheduled', 'status live']);
  });

  it('never logs the token', async () => {
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(services[1]!.logFile, 'utf8');
    expect(log).toContain('provider request failed');
    expect(log).not.toContain(TOKEN);
  });
});
