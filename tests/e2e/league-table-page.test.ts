/**
 * The page's league tables and schedule changes in Debian's Chromium, with the services as
 * `make demo` runs them (gateway and API behind the demo's edge proxy), signed out: each league's
 * table comes from GET /api/leagues/{id}/table and then follows `league_table` on `league:<id>`.
 * Results committed in Postgres (a match finished, another finished, a finished score corrected)
 * change the table on the page once each, in the outbox's order, with the database's points and
 * positions; the match cards still follow their scores (now delivered on the league channel); a
 * postponement, a cancellation and a reschedule show on the match rows; a table is shown per league.
 */
import { tmpdir } from 'node:os';
import type { Browser, Page } from 'playwright-core';
import { startEdgeProxy, type EdgeProxy } from '../../scripts/src/edge-proxy';
import { launchChromium } from '../harness/browser';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

/** A table as the page shows it: one "position team played points" string per row. */
type ShownTable = { seq: number; rows: string[] };

describe('league tables on the page', () => {
  const infra = new Infra();
  let gateway: GatewayProcess;
  let api: ServiceProcess;
  let edge: EdgeProxy;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const shownTable = (league: string): Promise<ShownTable> =>
    page.$eval(`#t-${league}`, (el) => ({
      seq: Number((el as HTMLElement).dataset.seq),
      rows: [...el.querySelectorAll('tbody tr')].map((tr) =>
        [tr.querySelector('.pos'), tr.querySelector('.team'), tr.querySelector('.played'), tr.querySelector('.pts')].map((td) => td?.textContent).join(' '),
      ),
    }));

  /** The tables the page rendered, one entry per change, as it rendered them (recorded in the page). */
  const rendered = (league: string): Promise<ShownTable[]> => page.evaluate((id) => (window as any).__rendered[id] ?? [], league);

  /** The league stream's league_table events in the outbox, as the page should show them. */
  async function outboxTables(league: string): Promise<ShownTable[]> {
    const { rows } = await infra.db.query<{ seq: string; data: any }>(
      `SELECT seq, data FROM outbox WHERE stream = $1 AND type = 'league_table' ORDER BY seq`,
      [`league:${league}`],
    );
    return rows.map((row) => ({ seq: Number(row.seq), rows: row.data.rows.map((r: any) => `${r.position} ${r.team.name} ${r.played} ${r.points}`) }));
  }

  const score = (match: string) =>
    page.$eval(`#m-${match}`, (el) => `${el.querySelector('.score.home')?.textContent}-${el.querySelector('.score.away')?.textContent}`);
  const scheduleBadge = (match: string) =>
    page.$eval(`#m-${match}`, (el) => {
      const badge = el.querySelector('.schedule') as HTMLElement | null;
      return badge ? `${badge.dataset.change}: ${badge.textContent}` : null;
    });

  beforeAll(async () => {
    await infra.start(false);
    await infra.db.query(`INSERT INTO league VALUES ('epl', 'Premier League'), ('lla', 'La Liga');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'), ('liv', 'epl', 'Liverpool'),
        ('mci', 'epl', 'Manchester City'), ('rma', 'lla', 'Real Madrid'), ('fcb', 'lla', 'Barcelona');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
        ('m1', 'epl', 'ars', 'che', now(), 'live'), ('m2', 'epl', 'liv', 'mci', now(), 'live'),
        ('m3', 'epl', 'che', 'liv', now() + interval '1 day', 'scheduled'), ('m4', 'epl', 'mci', 'ars', now() + interval '2 days', 'scheduled'),
        ('m5', 'lla', 'rma', 'fcb', now() + interval '1 day', 'scheduled');
      INSERT INTO scoreboard (match_id) VALUES ('m1'), ('m2')`);
    const env = { DATABASE_URL: infra.postgres.url };
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, TRUSTED_PROXY_HOPS: '1' }, 'gateway-league-table-page');
    gateway.start();
    const apiPort = await freePort();
    api = new ServiceProcess('api', { ...env, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: '0', AUTH_JWT_SECRET: 'league-table-page-secret-0123456789' }, 'api-league-table-page').start();
    edge = await startEdgeProxy(await freePort(), { gateway: { host: '127.0.0.1', port: gateway.port }, api: { host: '127.0.0.1', port: apiPort } }, '127.0.0.1');
    const address = edge.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await gateway.ready();
    await waitFor('the API', async () => ((await fetch(`${origin}/api/leagues/epl/table`)).ok ? true : undefined), 20_000);

    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(origin);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'live');
    await page.locator('#t-epl').waitFor();
    await page.locator('#t-lla').waitFor();
    // Record every table the page renders (a listener added after the page's own runs after it).
    await page.waitForFunction(() => {
      const { tables, scoreboard, client } = (window as any).__matchcast;
      return ['epl', 'lla'].every((id) => tables.get(id)?.rows.length > 0) && scoreboard && client.channels.includes('league:epl');
    });
    await page.evaluate(() => {
      const w = window as any;
      w.__rendered = {};
      for (const [id, store] of w.__matchcast.tables) {
        store.on('change', () => {
          const el = document.getElementById(`t-${id}`)!;
          (w.__rendered[id] ??= []).push({
            seq: Number(el.dataset.seq),
            rows: [...el.querySelectorAll('tbody tr')].map((tr) =>
              [tr.querySelector('.pos'), tr.querySelector('.team'), tr.querySelector('.played'), tr.querySelector('.pts')].map((td) => td?.textContent).join(' '),
            ),
          });
        });
      }
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.close();
    await Promise.all([gateway?.stop(), api?.stop()]);
    await infra.destroy();
  });

  it('shows every league table from the API, signed out, at the stream seq it was read at', async () => {
    expect(await shownTable('epl')).toEqual({ seq: 1, rows: ['1 Arsenal 0 0', '2 Chelsea 0 0', '3 Liverpool 0 0', '4 Manchester City 0 0'] });
    expect(await shownTable('lla')).toEqual({ seq: 1, rows: ['1 Barcelona 0 0', '2 Real Madrid 0 0'] });
    expect((await outboxTables('epl')).at(-1)).toEqual(await shownTable('epl'));
  });

  it('changes the table once per result, in order, with the database points and positions', async () => {
    const start = (await outboxTables('epl')).length;
    // Live goals change no table, but the cards follow them (on league:epl now).
    await infra.db.query(`UPDATE scoreboard SET home_score = 2, away_score = 1 WHERE match_id = 'm1'`);
    await page.waitForFunction(() => document.querySelector('#m-m1 .score.home')?.textContent === '2');
    expect(await score('m1')).toBe('2-1');
    await infra.db.query(`UPDATE match SET status = 'finished' WHERE id = 'm1'`);
    await infra.db.query(`BEGIN; UPDATE scoreboard SET away_score = 3 WHERE match_id = 'm2'; UPDATE match SET status = 'finished' WHERE id = 'm2'; COMMIT`);
    // A finished match's score corrected: 2-1 becomes 1-1.
    await infra.db.query(`UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm1'`);

    const want = (await outboxTables('epl')).slice(start);
    expect(want.map((table) => table.rows)).toEqual([
      ['1 Arsenal 1 3', '2 Liverpool 0 0', '3 Manchester City 0 0', '4 Chelsea 1 0'],
      ['1 Manchester City 1 3', '2 Arsenal 1 3', '3 Chelsea 1 0', '4 Liverpool 1 0'],
      ['1 Manchester City 1 3', '2 Arsenal 1 1', '3 Chelsea 1 1', '4 Liverpool 1 0'],
    ]);
    await waitFor('the page at the last table', async () => ((await rendered('epl')).length >= want.length ? true : undefined), 20_000);
    expect(await rendered('epl')).toEqual(want);
    expect(await shownTable('epl')).toEqual(want.at(-1));
    expect(await rendered('lla')).toEqual([]);
    expect([await score('m1'), await score('m2')]).toEqual(['1-1', '0-3']);
    expect(await page.evaluate(() => (window as any).__matchcast.client.diagnostics)).toMatchObject({ gaps: 0, duplicates: 0 });
  });

  it('marks postponed, cancelled and rescheduled matches on their rows', async () => {
    expect([await scheduleBadge('m3'), await scheduleBadge('m4'), await scheduleBadge('m5')]).toEqual([null, null, null]);
    await infra.db.query(`UPDATE match SET status = 'postponed' WHERE id = 'm3'`);
    await page.locator('#m-m3 .schedule[data-change=postponed]').waitFor({ timeout: 20_000 });
    expect(await scheduleBadge('m3')).toBe('postponed: Postponed');
    await infra.db.query(`UPDATE match SET kickoff_at = kickoff_at + interval '90 minutes' WHERE id = 'm4'`);
    await page.locator('#m-m4 .schedule[data-change=rescheduled]').waitFor({ timeout: 20_000 });
    expect(await scheduleBadge('m4')).toMatch(/^rescheduled: Rescheduled: .+ → .+$/);
    await infra.db.query(`UPDATE match SET status = 'cancelled' WHERE id = 'm5'`);
    await page.locator('#m-m5 .schedule[data-change=cancelled]').waitFor({ timeout: 20_000 });
    expect(await scheduleBadge('m5')).toBe('cancelled: Cancelled');
    // The postponed match played later: the badge goes, as the row is an ordinary fixture again.
    await infra.db.query(`UPDATE match SET status = 'scheduled' WHERE id = 'm3'`);
    await page.locator('#m-m3 .schedule[data-change=rescheduled]').waitFor({ timeout: 20_000 });
    expect(await scheduleBadge('m3')).toMatch(/^rescheduled: Rescheduled: [^→]+$/);
    // Reloaded, the page shows the postponement and cancellation from the snapshot alone.
    await infra.db.query(`UPDATE match SET status = 'postponed' WHERE id = 'm4'`);
    await page.reload();
    await page.locator('#m-m5 .schedule[data-change=cancelled]').waitFor({ timeout: 20_000 });
    expect([await scheduleBadge('m4'), await scheduleBadge('m5')]).toEqual(['postponed: Postponed', 'cancelled: Cancelled']);
    expect(pageErrors).toEqual([]);
    const shot = `${tmpdir()}/matchcast-league-tables-${process.pid}.png`;
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`page screenshot: ${shot}`);
  });

  it("lets a league go when its last match leaves the board: the table, and the league's channel", async () => {
    // After the test above La Liga's one match (m5) is cancelled: here it leaves 6 s after the page loaded it.
    const later = await browser.newPage();
    later.on('pageerror', (error) => pageErrors.push(error.message));
    await later.addInitScript(() => ((window as any).matchcastScoreboardOptions = { endedTtlMs: 6000 }));
    await later.goto(origin);
    await later.locator('#t-lla').waitFor();
    await later.waitForFunction(() => (window as any).__matchcast.client.channels.includes('league:lla'));
    await later.waitForFunction(() => document.getElementById('m-m5') === null && document.getElementById('t-lla') === null, undefined, { timeout: 15_000 });
    await later.waitForFunction(() => !(window as any).__matchcast.client.channels.includes('league:lla'));
    expect(await later.evaluate(() => (window as any).__matchcast.tables.has('lla'))).toBe(false);
    // The Premier League, with matches still on the board, stays.
    expect(await later.locator('#t-epl').count()).toBe(1);
    expect(pageErrors).toEqual([]);
    await later.close();
  });
});
