/**
 * The scoreboard page (on @matchcast/client) across a gateway crash, in Debian's Chromium:
 * goals go in, the gateway is SIGKILLed under the page, more goals go in while it is down, and
 * it comes back on the same port. The connection indicator must show the outage and the
 * recovery, and the page must end with exactly the database's state: every match's score as in
 * `scoreboard`, the client's position per stream at the outbox's last seq, no gap, no duplicate.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../harness/browser';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const MATCHES = ['rec-a', 'rec-b', 'rec-c'];
const SCORERS = ['Saka', 'Palmer', 'Salah', 'Haaland', 'Son', 'Isak', 'Watkins', 'Mbeumo'];

interface PageView {
  state: string | undefined;
  scores: Record<string, { home: string | null; away: string | null }>;
  positions: Record<string, number | undefined>;
  diagnostics: { gaps: number; duplicates: number; connects: number; resets: number };
  states: string[];
}

describe('scoreboard page across a gateway crash', () => {
  const infra = new Infra();
  let listener: ServiceProcess;
  let gateway: GatewayProcess;
  let browser: Browser;
  let page: Page;
  let goals = 0;

  /** One goal in one transaction, as the crawler writes it: the score and the event. */
  async function goal(match: string): Promise<void> {
    const team = goals % 2 === 0 ? 'home' : 'away';
    const player = SCORERS[goals % SCORERS.length];
    goals++;
    await infra.db.query('BEGIN');
    await infra.db.query(`UPDATE scoreboard SET ${team}_score = ${team}_score + 1, updated_at = now() WHERE match_id = $1`, [match]);
    await infra.db.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ($1, $2, 'goal', $3, $4)`, [match, 10 + goals, team, player]);
    await infra.db.query('COMMIT');
  }

  async function dbScores(): Promise<Record<string, { home: string; away: string }>> {
    const { rows } = await infra.db.query<{ match_id: string; home_score: number; away_score: number }>(
      'SELECT match_id, home_score, away_score FROM scoreboard WHERE match_id = ANY($1)', [MATCHES]);
    return Object.fromEntries(rows.map((r) => [r.match_id, { home: String(r.home_score), away: String(r.away_score) }]));
  }

  async function outboxPositions(): Promise<Record<string, number>> {
    const { rows } = await infra.db.query<{ stream: string; seq: string }>(
      'SELECT stream, max(seq) AS seq FROM outbox WHERE stream = ANY($1) GROUP BY stream', [MATCHES.map((m) => `match:${m}`)]);
    return Object.fromEntries(rows.map((r) => [r.stream, Number(r.seq)]));
  }

  const view = (): Promise<PageView> =>
    page.evaluate((ids) => {
      const w = window as unknown as { __matchcast: { client: any }; __states: string[] };
      const { client } = w.__matchcast;
      const score = (id: string, side: string) => document.querySelector(`#m-${id} [data-testid=${side}-score]`)?.textContent ?? null;
      return {
        state: document.getElementById('status')?.dataset.state,
        scores: Object.fromEntries(ids.map((id) => [id, { home: score(id, 'home'), away: score(id, 'away') }])),
        positions: Object.fromEntries(ids.map((id) => [`match:${id}`, client.position(`match:${id}`)])),
        diagnostics: client.diagnostics,
        states: [...w.__states],
      };
    }, MATCHES);

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'),
        ('liv', 'epl', 'Liverpool'), ('mci', 'epl', 'Manchester City'), ('tot', 'epl', 'Tottenham'), ('new', 'epl', 'Newcastle');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
        ('rec-a', 'epl', 'ars', 'che', now(), 'live'), ('rec-b', 'epl', 'liv', 'mci', now(), 'live'), ('rec-c', 'epl', 'tot', 'new', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('rec-a'), ('rec-b'), ('rec-c')`);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    listener = new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }, 'listener-page-recovery').start();
    gateway = new GatewayProcess(await freePort(), await freePort(), env, 'gateway-page-recovery');
    gateway.start();
    await gateway.ready();
    await waitFor('gateway on the Redis path', async () => ((await gateway.mode()) === 'redis' ? true : undefined));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await listener?.stop();
    await infra.destroy();
  });

  it('shows the outage, reconnects, and misses no goal', async () => {
    page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`http://127.0.0.1:${gateway.port}/`);
    await page.waitForFunction(() => (window as any).__matchcast !== undefined);
    await page.locator('#status[data-state=live]').waitFor({ timeout: 10_000 });
    // Record the client's states from live on (on a busy machine the first connect can take a while).
    await page.evaluate(() => {
      const w = window as any;
      w.__states = [w.__matchcast.client.state];
      w.__matchcast.client.on('state', (s: string) => w.__states.push(s));
    });
    for (const id of MATCHES) await page.locator(`#m-${id} [data-testid=home-score]`).waitFor();

    // Live: goals while the gateway is up reach the page.
    for (let i = 0; i < 6; i++) await goal(MATCHES[i % MATCHES.length]!);
    const live = await dbScores();
    await page.waitForFunction((want) => Object.entries(want).every(([id, s]) =>
      document.querySelector(`#m-${id} [data-testid=home-score]`)?.textContent === s.home &&
      document.querySelector(`#m-${id} [data-testid=away-score]`)?.textContent === s.away), live, { timeout: 10_000 });

    // The gateway dies under the page; goals keep going in while it is down.
    await gateway.kill();
    await page.waitForFunction(() => ['reconnecting', 'connecting'].includes(document.getElementById('status')?.dataset.state ?? ''),
      undefined, { timeout: 10_000 });
    expect(await page.locator('#status').textContent()).toMatch(/connecting/);
    for (let i = 0; i < 9; i++) {
      await goal(MATCHES[(i * 2) % MATCHES.length]!);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect((await view()).state).toMatch(/^(reconnecting|connecting)$/);
    const downShot = join(tmpdir(), `matchcast-page-down-${process.pid}.png`);
    await page.screenshot({ path: downShot });

    // Back on the same port: the client resumes and the page catches up.
    gateway.start();
    await gateway.ready();
    await page.locator('#status[data-state=live]').waitFor({ timeout: 45_000 });
    // And goals after the recovery arrive live again.
    for (const id of MATCHES) await goal(id);

    const want = await dbScores();
    const positions = await outboxPositions();
    await waitFor('the page to show the database state', async () => {
      const v = await view();
      return JSON.stringify(v.scores) === JSON.stringify(want) &&
        Object.entries(positions).every(([stream, seq]) => v.positions[stream] === seq) ? true : undefined;
    }, 15_000).catch(() => undefined);

    const end = await view();
    if (JSON.stringify(end.scores) !== JSON.stringify(want)) console.log(logs.join('\n'));
    expect(end.state).toBe('live');
    expect(end.scores).toEqual(want);
    expect(Object.keys(positions).sort()).toEqual(MATCHES.map((m) => `match:${m}`).sort());
    expect(end.positions).toEqual(positions);
    expect(end.diagnostics).toMatchObject({ gaps: 0, duplicates: 0, resets: 0 });
    expect(end.diagnostics.connects).toBeGreaterThanOrEqual(2);
    expect(end.states[0]).toBe('live');
    expect(end.states).toContain('reconnecting');
    expect(end.states[end.states.length - 1]).toBe('live');
    // Every goal scored is in the page's event list once (18 goals, the list keeps 50).
    expect(await page.locator('#events .event').count()).toBe(goals);

    const shot = join(tmpdir(), `matchcast-page-recovery-${process.pid}.png`);
    await page.screenshot({ path: shot });
    console.log(`page screenshots: ${downShot} (gateway down), ${shot} (recovered)`);
  });
});
