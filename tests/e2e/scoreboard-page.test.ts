/**
 * The live scoreboard page in a real browser (Debian's Chromium driven by playwright-core):
 * a goal committed in Postgres changes the score on the page without a reload.
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
});
