/**
 * The page's announcement banner in Debian's Chromium, with the services as `make demo` runs
 * them (gateway, API with the development sign-in, notifier, behind the demo's edge proxy):
 * the organiser (the demo's admin) publishes an announcement to everyone and one to a league
 * from the page's form; a second, signed-out tab shows both banners at once (GET
 * /api/announcements, then the `all` and `league:<id>` streams); an edit and an expiry reach it;
 * an urgent league announcement stands out there and rings the bell of alice, who follows the
 * league; a match's shows too. Reloaded, the fan's tab shows exactly the active ones.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { startEdgeProxy, type EdgeProxy } from '../../scripts/src/edge-proxy';
import { launchChromium } from '../harness/browser';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

type Banner = { id: string; priority: string; target: string; title: string; message: string };

describe('announcement banner', () => {
  const infra = new Infra();
  const secret = randomBytes(32).toString('base64url');
  let gateway: GatewayProcess;
  let api: ServiceProcess;
  let notifier: ServiceProcess;
  let edge: EdgeProxy;
  let origin: string;
  let browser: Browser;
  let admin: Page;
  let fan: Page;
  let alice: Page;
  const pageErrors: string[] = [];

  const banners = (page: Page): Promise<Banner[]> =>
    page.$$eval('#announcements .announcement', (els) =>
      els.map((el) => {
        const e = el as HTMLElement;
        return {
          id: e.dataset.id!,
          priority: e.dataset.priority!,
          target: e.dataset.target!,
          title: e.querySelector('.title')!.firstChild!.textContent!,
          message: e.querySelector('.message')!.textContent!,
        };
      }),
    );
  const waitForBanners = (page: Page, predicate: string) =>
    page.waitForFunction(predicate, undefined, { timeout: 20_000 });

  async function opened(): Promise<Page> {
    // waitForBanners' string predicates run through eval, which the page's CSP forbids (no 'unsafe-eval').
    const page = await (await browser.newContext({ bypassCSP: true })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(origin);
    return page;
  }

  async function signIn(page: Page, user: string): Promise<void> {
    await page.locator(`button.sign-in[data-user=${user}]`).click();
    await page.locator('#whoami').filter({ hasText: user }).waitFor();
    await page.waitForFunction(() => (window as any).__matchcast.inbox?.userId !== undefined && document.getElementById('status')?.dataset.state === 'live');
  }

  /** Waits until the page shows the league's table and has its announcements loaded (both streams followed). */
  const settled = (page: Page) =>
    page.waitForFunction(() => {
      const { announcements, client } = (window as any).__matchcast;
      return document.getElementById('status')?.dataset.state === 'live' && announcements.has('all') && announcements.has('league:epl') && client.channels.includes('league:epl');
    }, undefined, { timeout: 20_000 });

  async function publish(fields: { title: string; message: string; type: string; priority: string; target: string; target_id?: string }): Promise<string> {
    const form = admin.locator('#announce-form');
    const before = await form.getAttribute('data-last-id');
    await form.locator('input[name=title]').fill(fields.title);
    await form.locator('input[name=message]').fill(fields.message);
    await form.locator('select[name=type]').selectOption(fields.type);
    await form.locator('select[name=priority]').selectOption(fields.priority);
    await form.locator('select[name=target]').selectOption(fields.target);
    await form.locator('input[name=target_id]').fill(fields.target_id ?? '');
    await form.locator('button[type=submit]').click();
    await admin.waitForFunction((last) => {
      const id = document.getElementById('announce-form')?.dataset.lastId;
      return id !== undefined && id !== last;
    }, before);
    expect(await admin.locator('#announce-error').textContent()).toBe('');
    return (await form.getAttribute('data-last-id'))!;
  }

  beforeAll(async () => {
    await infra.start(false);
    await infra.db.query(`INSERT INTO league VALUES ('epl', 'Premier League'), ('lla', 'La Liga');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'), ('rma', 'lla', 'Real Madrid'), ('fcb', 'lla', 'Barcelona');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
        VALUES ('m1', 'epl', 'ars', 'che', now(), 'live'), ('m2', 'lla', 'rma', 'fcb', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('m1'), ('m2')`);
    const env = { DATABASE_URL: infra.postgres.url };
    const auth = { AUTH_JWT_SECRET: secret, TRUSTED_PROXY_HOPS: '1' };
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, ...auth }, 'gateway-announcements-page');
    gateway.start();
    const apiPort = await freePort();
    api = new ServiceProcess('api', { ...env, ...auth, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: '0', DEV_SIGN_IN: 'true' }, 'api-announcements-page').start();
    notifier = new ServiceProcess('notifier', { ...env, OPS_PORT: '0', ANNOUNCEMENT_INTERVAL_MS: '200' }, 'notifier-announcements-page').start();
    edge = await startEdgeProxy(await freePort(), { gateway: { host: '127.0.0.1', port: gateway.port }, api: { host: '127.0.0.1', port: apiPort } }, '127.0.0.1');
    const address = edge.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await gateway.ready();
    await waitFor('the API', async () => ((await fetch(`${origin}/api/dev/users`)).ok ? true : undefined), 20_000);

    browser = await launchChromium();
    admin = await opened();
    await signIn(admin, 'organiser');
    await admin.locator('#announce-form').waitFor({ state: 'visible' });
    alice = await opened();
    await signIn(alice, 'alice');
    await alice.evaluate(() => (window as any).MatchcastAccount.request('PUT', '/api/me/follows/league/epl'));
    fan = await opened();
    await Promise.all([settled(fan), settled(alice), settled(admin)]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.close();
    await Promise.all([gateway?.stop(), api?.stop(), notifier?.stop()]);
    await infra.destroy();
  });

  it('offers the form to the organiser only', async () => {
    expect(await admin.locator('#announce-form').isVisible()).toBe(true);
    expect(await fan.locator('#announce-form').isVisible()).toBe(false);
    expect(await alice.locator('#announce-form').isVisible()).toBe(false);
    expect(await banners(fan)).toEqual([]);
  });

  let everyoneId: string;
  let leagueId: string;

  it('shows an announcement for everyone and one for a league, published from the form, in a signed-out tab at once', async () => {
    everyoneId = await publish({ title: 'Welcome', message: 'Matchday 12 is live.', type: 'general', priority: 'normal', target: 'everyone' });
    leagueId = await publish({ title: 'Kick-off delayed', message: 'Heavy rain at the Emirates.', type: 'weather_alert', priority: 'high', target: 'league', target_id: 'epl' });
    await waitForBanners(fan, `document.querySelectorAll('#announcements .announcement').length === 2`);
    expect(await banners(fan)).toEqual([
      { id: leagueId, priority: 'high', target: 'league:epl', title: 'Kick-off delayed', message: 'Heavy rain at the Emirates.' },
      { id: everyoneId, priority: 'normal', target: 'everyone', title: 'Welcome', message: 'Matchday 12 is live.' },
    ]);
    // The organiser sees them too, with an Expire button; the fan has none.
    await waitForBanners(admin, `document.querySelectorAll('#announcements .announcement button.expire').length === 2`);
    expect(await fan.locator('#announcements button.expire').count()).toBe(0);
  });

  it('shows an edit and removes an expired one', async () => {
    await admin.evaluate((id) => (window as any).MatchcastAccount.request('PATCH', `/api/announcements/${id}`, { body: { title: 'Kick-off at 16:30' } }), leagueId);
    await waitForBanners(fan, `[...document.querySelectorAll('#announcements .announcement .title')].some((el) => el.textContent.startsWith('Kick-off at 16:30'))`);
    expect((await banners(fan)).map((b) => b.title)).toEqual(['Kick-off at 16:30', 'Welcome']);
    await admin.locator(`#announcements .announcement[data-id="${leagueId}"] button.expire`).click();
    await waitForBanners(fan, `document.querySelectorAll('#announcements .announcement').length === 1`);
    expect((await banners(fan)).map((b) => b.id)).toEqual([everyoneId]);
    // A timed expiry (the notifier's): gone within about a second of expires_at.
    await admin.evaluate(
      (id) => (window as any).MatchcastAccount.request('PATCH', `/api/announcements/${id}`, { body: { expires_at: new Date(Date.now() + 1500).toISOString() } }),
      everyoneId,
    );
    // (The page hides it at expires_at itself; the notifier's announcement_expired follows.)
    await waitForBanners(fan, `document.querySelectorAll('#announcements .announcement').length === 0`);
    await waitFor('the notifier expired it', async () => {
      const { rows } = await infra.db.query<{ state: string }>(`SELECT state FROM announcement ORDER BY id`);
      return rows.every((row) => row.state === 'expired') ? true : undefined;
    });
    const { rows } = await infra.db.query<{ seq: string }>(`SELECT max(seq) AS seq FROM outbox WHERE stream = 'all'`);
    await fan.waitForFunction((seq) => (window as any).__matchcast.announcements.get('all').seq === seq, Number(rows[0].seq), { timeout: 20_000 });
    expect(await banners(fan)).toEqual([]);
  });

  it('makes an urgent league announcement stand out and rings the bell of a follower of the league', async () => {
    expect(await alice.locator('#bell-count').textContent()).toBe('0');
    const urgent = await publish({ title: 'Stadium evacuated', message: 'Leave by the north gates.', type: 'emergency', priority: 'urgent', target: 'league', target_id: 'epl' });
    await waitForBanners(fan, `document.querySelector('#announcements .announcement[data-priority=urgent]') !== null`);
    expect(await banners(fan)).toEqual([{ id: urgent, priority: 'urgent', target: 'league:epl', title: 'Stadium evacuated', message: 'Leave by the north gates.' }]);
    expect(await fan.locator('#announcements .announcement[data-priority=urgent]').getAttribute('role')).toBe('alert');
    await alice.waitForFunction(() => document.getElementById('bell-count')?.textContent === '1', undefined, { timeout: 20_000 });
    expect(await alice.evaluate(() => (window as any).__matchcast.inbox.items.map((n: any) => [n.type, n.data.announcement_id]))).toEqual([['announcement', urgent]]);
    expect(await admin.locator('#bell-count').textContent()).toBe('0');

    // A match's announcement (taken from its league's channel, which the page follows).
    const match = await publish({ title: 'Gates open early', message: 'From 17:00.', type: 'general', priority: 'low', target: 'match', target_id: 'm2' });
    await waitForBanners(fan, `document.querySelectorAll('#announcements .announcement').length === 2`);
    expect((await banners(fan)).map((b) => [b.id, b.target])).toEqual([[urgent, 'league:epl'], [match, 'match:m2']]);
    expect(await fan.locator(`#announcements .announcement[data-id="${match}"] .tag`).textContent()).toBe('news · Real Madrid – Barcelona');

    // Reloaded, the fan's tab shows exactly the active ones (from the API).
    await fan.reload();
    await settled(fan);
    await waitForBanners(fan, `document.querySelectorAll('#announcements .announcement').length === 2`);
    expect((await banners(fan)).map((b) => b.id)).toEqual([urgent, match]);
    expect(await fan.evaluate(() => (window as any).__matchcast.client.diagnostics)).toMatchObject({ gaps: 0, duplicates: 0 });
    expect(pageErrors).toEqual([]);
  });
});
