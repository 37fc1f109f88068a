/**
 * The page's notification bell in Debian's Chromium, with the services as `make demo` runs
 * them (gateway, API with the development sign-in, notifier, behind the demo's edge proxy):
 * two tabs signed in as alice follow Arsenal; a goal committed in Postgres reaches both bells
 * (the notifier creates the notification, the user stream carries it) and shows a toast;
 * marking it read in one tab clears it in the other; deleting and marking all read do the same;
 * bob, signed in elsewhere and following a team of another match, sees nothing of it.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startEdgeProxy, type EdgeProxy } from '../../scripts/src/edge-proxy';
import { launchChromium } from '../harness/browser';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

describe('notification bell across tabs', () => {
  const infra = new Infra();
  const secret = randomBytes(32).toString('base64url');
  let gateway: GatewayProcess;
  let api: ServiceProcess;
  let notifier: ServiceProcess;
  let edge: EdgeProxy;
  let origin: string;
  let browser: Browser;
  let aliceContext: BrowserContext;
  let bobContext: BrowserContext;
  let tab1: Page;
  let tab2: Page;
  let bob: Page;
  let minute = 10;

  /** A goal as the crawler writes it: the score and the event, in one transaction. */
  async function goal(team: 'home' | 'away', player: string): Promise<void> {
    await infra.db.query('BEGIN');
    await infra.db.query(`UPDATE scoreboard SET ${team}_score = ${team}_score + 1, updated_at = now() WHERE match_id = 'derby'`);
    await infra.db.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ('derby', $1, 'goal', $2, $3)`, [minute++, team, player]);
    await infra.db.query('COMMIT');
  }

  const bellCount = (page: Page) => page.locator('#bell-count').textContent();
  const waitForBell = (page: Page, count: number) =>
    page.waitForFunction((n) => document.getElementById('bell-count')?.textContent === String(n), count, { timeout: 20_000 });
  const items = (page: Page) =>
    page.$$eval('#inbox-list .notification', (els) => els.map((el) => ({ id: (el as HTMLElement).dataset.id, unread: el.classList.contains('unread') })));

  async function signIn(page: Page, user: string): Promise<void> {
    await page.goto(origin);
    await page.locator(`button.sign-in[data-user=${user}]`).click();
    await page.locator('#whoami').filter({ hasText: user }).waitFor();
    await page.waitForFunction(() => (window as any).__matchcast.inbox?.userId !== undefined && document.getElementById('status')?.dataset.state === 'live');
  }

  async function openedPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error));
    return page;
  }

  beforeAll(async () => {
    await infra.start(false);
    await infra.db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'), ('liv', 'epl', 'Liverpool'), ('mci', 'epl', 'Manchester City');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
        VALUES ('derby', 'epl', 'ars', 'che', now(), 'live'), ('other', 'epl', 'liv', 'mci', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('derby'), ('other')`);
    const env = { DATABASE_URL: infra.postgres.url };
    const auth = { AUTH_JWT_SECRET: secret, TRUSTED_PROXY_HOPS: '1' };
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, ...auth }, 'gateway-notifications-page');
    gateway.start();
    const apiPort = await freePort();
    api = new ServiceProcess('api', { ...env, ...auth, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: '0', DEV_SIGN_IN: 'true' }, 'api-notifications-page').start();
    notifier = new ServiceProcess('notifier', { ...env, OPS_PORT: '0', NOTIFIER_POLL_INTERVAL_MS: '50' }, 'notifier-notifications-page').start();
    edge = await startEdgeProxy(await freePort(), { gateway: { host: '127.0.0.1', port: gateway.port }, api: { host: '127.0.0.1', port: apiPort } }, '127.0.0.1');
    const address = edge.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await gateway.ready();
    await waitFor('the API', async () => ((await fetch(`${origin}/api/dev/users`)).ok ? true : undefined), 20_000);

    browser = await launchChromium();
    aliceContext = await browser.newContext();
    bobContext = await browser.newContext();
    tab1 = await openedPage(aliceContext);
    await signIn(tab1, 'alice');
    // The second tab shares the first's storage: signed in as alice already.
    tab2 = await openedPage(aliceContext);
    await tab2.goto(origin);
    await tab2.locator('#whoami').filter({ hasText: 'alice' }).waitFor();
    await tab2.waitForFunction(() => (window as any).__matchcast.inbox?.userId === 'alice' && document.getElementById('status')?.dataset.state === 'live');
    bob = await openedPage(bobContext);
    await signIn(bob, 'bob');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.close();
    await Promise.all([gateway?.stop(), api?.stop(), notifier?.stop()]);
    await infra.destroy();
  });

  async function follows(user: string): Promise<string[]> {
    const { rows } = await infra.db.query<{ target_id: string }>(`SELECT target_id FROM follow WHERE user_id = $1 AND kind = 'team' ORDER BY 1`, [user]);
    return rows.map((row) => row.target_id);
  }

  it('follows a team with one click, shown as followed', async () => {
    await bob.bringToFront();
    await bob.locator('#m-other button.follow[data-team=liv]').click();
    await waitFor('bob follows Liverpool', async () => ((await follows('bob')).length === 1 ? true : undefined));
    await tab1.bringToFront();
    const star = tab1.locator('#m-derby button.follow[data-team=ars]');
    expect(await star.getAttribute('aria-pressed')).toBe('false');
    await star.click();
    await waitFor('the follow stored', async () => ((await follows('alice')).length === 1 ? true : undefined));
    expect([await follows('alice'), await follows('bob')]).toEqual([['ars'], ['liv']]);
    expect(await star.getAttribute('aria-pressed')).toBe('true');
    // Reloaded, the page shows it as followed (from GET /api/me/follows).
    await tab1.reload();
    await tab1.locator('#m-derby button.follow.on[data-team=ars]').waitFor();
    await tab1.waitForFunction(() => document.getElementById('status')?.dataset.state === 'live');
    expect([await bellCount(tab1), await bellCount(tab2), await bellCount(bob)]).toEqual(['0', '0', '0']);
  });

  it('a goal by the followed team rings both of alice’s bells (with a toast), not bob’s', async () => {
    await goal('home', 'Saka');
    await Promise.all([waitForBell(tab1, 1), waitForBell(tab2, 1)]);
    await tab2.locator('.toast').filter({ hasText: 'Arsenal' }).first().waitFor();
    const [one] = await items(tab1);
    expect(one).toMatchObject({ unread: true });
    expect(await items(tab2)).toEqual([one]);
    const { rows } = await infra.db.query<{ id: string; user_id: string }>(`SELECT id::text, user_id FROM notification`);
    expect(rows).toEqual([{ id: one!.id, user_id: 'alice' }]);
    // Bob's page had every chance to hear of it (the same gateway, the same moment): nothing.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await bellCount(bob)).toBe('0');
    expect(await items(bob)).toEqual([]);
    expect(await bob.locator('.toast').count()).toBe(0);
  });

  it('marking read in one tab clears it in the other', async () => {
    await tab1.bringToFront(); // a background tab's clicks wait for animation frames it does not get
    await tab1.locator('#bell').click();
    await tab1.locator('#inbox-list .notification.unread .mark-read').click();
    await Promise.all([waitForBell(tab1, 0), waitForBell(tab2, 0)]);
    expect((await items(tab2)).map((item) => item.unread)).toEqual([false]);
  });

  it('mark all read and delete reach every tab too, and nothing arrives twice', async () => {
    await goal('home', 'Ødegaard');
    await goal('away', 'Palmer'); // against her team: alice hears of it too
    await goal('home', 'Rice');
    await Promise.all([waitForBell(tab1, 3), waitForBell(tab2, 3)]);
    await tab2.bringToFront();
    await tab2.locator('#bell').click();
    await tab2.locator('#mark-all-read').click();
    await Promise.all([waitForBell(tab1, 0), waitForBell(tab2, 0)]);

    const before = await items(tab1);
    expect(before).toHaveLength(4);
    await tab2.locator(`#inbox-list .notification[data-id="${before[0]!.id}"] .delete`).click();
    await tab1.waitForFunction((id) => !document.querySelector(`#inbox-list .notification[data-id="${id}"]`), before[0]!.id);
    const { rows } = await infra.db.query<{ id: string }>(`SELECT id::text FROM notification WHERE user_id = 'alice' ORDER BY id DESC`);
    for (const tab of [tab1, tab2]) {
      expect((await items(tab)).map((item) => item.id)).toEqual(rows.map((row) => row.id));
      const diagnostics = await tab.evaluate(() => (window as any).__matchcast.client.diagnostics);
      expect(diagnostics).toMatchObject({ gaps: 0 });
    }
    expect(await bellCount(bob)).toBe('0');
    expect(await items(bob)).toEqual([]);
  });

  it('a burst of notifications (a service sending 40 at once) shows a few toasts, not one stacked per notification; the bell counts them all', async () => {
    const { token } = (await (
      await fetch(`${origin}/api/dev/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'svc', roles: ['admin'] }) })
    ).json()) as { token: string };
    await bob.bringToFront();
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${origin}/api/notifications`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ user_id: 'bob', title: `Burst ${i}`, message: 'one of many', type: 'news' }),
        }).then((response) => response.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([201]));
    await waitForBell(bob, 40);
    expect(await bob.locator('.toast').count()).toBeLessThanOrEqual(3);
  });
});
