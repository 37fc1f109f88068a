/**
 * The live scoreboard page in a real browser (Debian's Chromium driven by playwright-core):
 * a goal committed in Postgres changes the score on the page without a reload; left open, the
 * page's rows stay within the scoreboard's bounds.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../harness/browser';
import { GatewayProcess, Infra, freePort } from '../harness/stack';

describe('scoreboard page', () => {
  const infra = new Infra();
  let gateway: GatewayProcess;
  let browser: Browser;

  beforeAll(async () => {
    await infra.start(false);
    await infra.db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
        VALUES ('derby', 'epl', 'ars', 'che', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('derby')`);
    gateway = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url }, 'gateway-page');
    gateway.start();
    await gateway.ready();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await infra.destroy();
  });

  it('shows live scores changing as goals go in', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${gateway.port}/`);
    const home = page.locator('#m-derby [data-testid=home-score]');
    await home.waitFor();
    expect(await home.textContent()).toBe('0');
    await page.locator('#status[data-state=live]').waitFor();

    await infra.db.query(`BEGIN;
      UPDATE scoreboard SET home_score = 1 WHERE match_id = 'derby';
      INSERT INTO football_event (match_id, minute, type, team, player) VALUES ('derby', 23, 'goal', 'home', 'Saka');
      COMMIT`);
    await page.waitForFunction(() => document.querySelector('#m-derby [data-testid=home-score]')?.textContent === '1', undefined, { timeout: 5000 });
    expect(await page.locator('#events').textContent()).toContain('Saka');

    const dir = join(__dirname, '..', '..', '.tmp');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'scoreboard.png') });
  });

  it('keeps its rows within the scoreboard bounds: ended matches leave, at most maxMatches stay, a match that left comes back with its state', async () => {
    const ids = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'];
    await infra.db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
      SELECT id, 'epl', 'ars', 'che', now() - interval '1 minute' * ord, 'live' FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord)`, [ids]);
    await infra.db.query(`INSERT INTO scoreboard (match_id) SELECT unnest($1::text[])`, [ids]);
    const page = await browser.newPage();
    await page.addInitScript(() => {
      (window as unknown as { matchcastScoreboardOptions: object }).matchcastScoreboardOptions = { maxMatches: 3, endedTtlMs: 1000 };
      // The most rows the page ever showed, counted after each change (a MutationObserver sees a task's end state).
      addEventListener('DOMContentLoaded', () => {
        const list = document.getElementById('matches')!;
        const record = () => ((window as unknown as { maxRows: number }).maxRows = Math.max((window as unknown as { maxRows?: number }).maxRows ?? 0, list.children.length));
        new MutationObserver(record).observe(list, { childList: true });
      });
    });
    await page.goto(`http://127.0.0.1:${gateway.port}/`);
    await page.locator('#status[data-state=live]').waitFor();
    const rows = () => page.evaluate(() => [...document.querySelectorAll('#matches .match')].map((el) => (el as HTMLElement).dataset.match!));
    await page.waitForFunction(() => document.querySelectorAll('#matches .match').length === 3);

    // One shown finishes: its row goes once its time is up (1 s here).
    const finished = (await rows())[0]!;
    await infra.db.query(`UPDATE match SET status = 'finished' WHERE id = $1`, [finished]);
    await page.waitForFunction((id) => document.getElementById('m-' + id) === null, finished, { timeout: 10_000 });

    // One that left for the size scores: it is back, with its whole state, in the free place.
    const shown = await rows();
    const back = ids.find((id) => id !== finished && !shown.includes(id))!;
    await infra.db.query(`UPDATE scoreboard SET home_score = 2 WHERE match_id = $1`, [back]);
    await page.waitForFunction((id) => document.querySelector(`#m-${id} [data-testid=home-score]`)?.textContent === '2', back, { timeout: 5000 });
    expect(await page.locator(`#m-${back} .team`).first().textContent()).toContain('Arsenal');
    expect((await rows()).length).toBe(3);
    expect(await page.evaluate(() => (window as unknown as { maxRows: number }).maxRows)).toBe(3);
    await page.close();
  });
});
