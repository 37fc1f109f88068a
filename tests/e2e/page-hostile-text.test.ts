/**
 * The page (services/gateway/public, with the bundled client `make build` makes) in Debian's
 * Chromium against a scripted backend that serves hostile stored text: team, league and player
 * names as a provider feed could carry them, announcement titles and bodies, notification texts,
 * user names — markup (`<img onerror>`, attribute breakouts), `javascript:` URLs, right-to-left
 * overrides and 5,000-character words. Nothing may execute, the bidi overrides must not reorder
 * the page's own text beside them, and the layout must not overflow the window. The page
 * carries a Content-Security-Policy that would block an injected script anyway.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { launchChromium } from '../harness/browser';

const PUBLIC = join(__dirname, '..', '..', 'services', 'gateway', 'public');
const MARK = `window.__xss=(window.__xss||0)+1`;
const XSS = `<img src=x onerror="${MARK}">"><svg onload="${MARK}">'><iframe src="javascript:${MARK}">`;
const RLO = '\u202E';
const HUGE = 'W'.repeat(5000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const TOKEN = `${b64({ alg: 'HS256' })}.${b64({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 86_400 })}.sig`;
const NOW = new Date().toISOString();

const match = {
  match_id: 'm1', status: 'live', minute: 12, score: { home: 1, away: 0 }, kickoff_at: NOW,
  home_team: { id: 't-h', name: `${XSS}${HUGE}` }, away_team: { id: 't-a', name: `${RLO}Rovers` }, league: { id: 'l1', name: `${RLO}${XSS}` },
};
const announcement = {
  id: 'a1', title: `${RLO}${XSS}`, message: `javascript:${MARK} ${HUGE}`, type: 'general', priority: 'urgent', target: 'everyone', target_id: null,
  starts_at: null, expires_at: null, created_by: 'x', state: 'published', created_at: NOW, updated_at: NOW,
};
const notification = {
  id: '1', user_id: 'alice', title: `${RLO}${XSS}`, message: HUGE, type: 'goal', match_id: 'm1', team_id: 't-h', league_id: 'l1', data: {},
  priority: 'normal', is_read: false, read_at: null, created_at: NOW, expires_at: null,
};

/** GET routes of the scripted API (path without query → body). */
function api(path: string): unknown {
  switch (path) {
    case '/api/matches':
      return { matches: [{ match, stream: 'match:m1', seq: 1 }] };
    case '/api/leagues/l1/table':
      return { league: match.league, stream_seq: 0, rows: [{ position: 1, team: match.home_team, played: XSS, won: 1, drawn: 0, lost: 0, goals_for: 1, goals_against: 0, goal_difference: XSS, points: XSS }] };
    case '/api/announcements':
      return { announcements: [announcement], stream: 'all', stream_seq: 0 };
    case '/api/dev/users':
      return { users: [{ id: 'alice', name: `${RLO}${XSS}`, roles: [] }, { id: 'bob', name: HUGE, roles: [] }] };
    case '/api/notifications':
      return { notifications: [notification], total: 1, unread_count: 1, stream_seq: 0 };
    case '/api/me/follows':
      return { follows: [] };
    default:
      return undefined;
  }
}

/** Live events, sent once the page subscribes: a goal by a hostile player, and a notification to alice. */
function events(channels: string[]): unknown[] {
  const out: unknown[] = [];
  if (channels.includes('all')) {
    out.push({
      type: 'match_event', match_id: 'm1', channel: 'all', stream: 'match:m1', seq: 2, id: 'e2', timestamp: new Date().toISOString(),
      // Numbers where the page expects them are text too: a score that is markup must not become elements.
      data: { ...match, score: { home: 2, away: XSS }, event: { type: 'goal', minute: 13, team: 'away', player: `${RLO}${XSS}` } },
    });
  }
  if (channels.includes('user:alice')) {
    out.push({ type: 'notification', match_id: 'm1', channel: 'user:alice', stream: 'user:alice', seq: 1, id: 'n1', timestamp: new Date().toISOString(),
      data: { ...notification, id: '2', title: `${RLO}${XSS}${HUGE}`, unread_count: 2 } });
  }
  return out;
}

async function backend(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = api(url.pathname);
    if (body !== undefined) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    if (!/^[a-z-]+\.(html|js)$/.test(file)) return res.writeHead(404).end();
    try {
      const type = extname(file) === '.html' ? 'text/html; charset=utf-8' : 'text/javascript';
      res.writeHead(200, { 'content-type': type }).end(await readFile(join(PUBLIC, file)));
    } catch {
      res.writeHead(404).end();
    }
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (socket) => {
    socket.send(JSON.stringify({ type: 'connection_status', status: 'connected', connection_id: 'c', server_time: new Date().toISOString() }));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { action: string; channels?: string[] };
      if (message.action === 'ping') socket.send(JSON.stringify({ type: 'pong', timestamp: new Date().toISOString() }));
      if (message.action !== 'subscribe') return;
      socket.send(JSON.stringify({ type: 'subscribed', channels: message.channels }));
      for (const event of events(message.channels ?? [])) socket.send(JSON.stringify(event));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const socket of wss.clients) socket.terminate();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether `selector`'s text is laid out left to right: its first visible character left of its last. */
function laidOutLtr(page: Page, selector: string): Promise<boolean> {
  return page.$eval(selector, (el) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const chars: [Text, number][] = [];
    for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
      [...node.data].forEach((c, i) => /[\p{L}\p{P}]/u.test(c) && chars.push([node!, i]));
    }
    const left = ([node, i]: [Text, number]) => {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      return range.getBoundingClientRect().left;
    };
    return left(chars[0]!) < left(chars[chars.length - 1]!);
  });
}

describe('the page with hostile stored text', () => {
  let server: Awaited<ReturnType<typeof backend>>;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await backend();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(signedIn: boolean): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    if (signedIn) {
      await context.addInitScript((token) => localStorage.setItem('matchcast.session', JSON.stringify({ user: 'alice', roles: [], token })), TOKEN);
    }
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.dismiss());
    await page.goto(server.origin);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'live');
    await page.locator('#events .event').first().waitFor();
    await page.locator('#t-l1').waitFor();
    await page.locator('#announcements .announcement').waitFor();
    return page;
  }

  const executed = (page: Page) => page.evaluate(() => ({
    xss: (window as { __xss?: number }).__xss ?? 0,
    handlers: document.querySelectorAll('[onerror], [onload], iframe, img[src="x"]').length,
  }));

  it('signed out: names, the league, the player, the announcement and the sign-in buttons show as text; nothing runs', async () => {
    const page = await open(false);
    await page.locator('button.sign-in').first().waitFor();
    await page.waitForTimeout(300);
    expect(await executed(page)).toEqual({ xss: 0, handlers: 0 });
    expect(await page.locator('#m-m1 .team').first().textContent()).toContain('<img src=x onerror=');
    expect(await page.locator('#announcements .announcement .title').textContent()).toContain('<svg onload=');
    expect(await page.locator('button.sign-in[data-user=alice]').textContent()).toContain('<img');
    await page.context().close();
  });

  it('signed in: the inbox and the toast show the notification texts as text; nothing runs', async () => {
    const page = await open(true);
    await page.locator('#toasts .toast').waitFor();
    await page.locator('#inbox-list .notification').first().waitFor({ state: 'attached' });
    await page.waitForTimeout(300);
    expect(await executed(page)).toEqual({ xss: 0, handlers: 0 });
    expect(await page.locator('#toasts .toast strong').textContent()).toContain('<img src=x');
    await page.context().close();
  });

  it('a right-to-left override in a name does not reorder the page text beside it', async () => {
    const page = await open(false);
    // The goal by "‮<img…>": the scorer's team after it, "(‮Rovers)" — its parentheses are the page's.
    expect(await laidOutLtr(page, '#events .event small')).toBe(true);
    // The announcement's title "‮…", then the page's own tag ("news").
    expect(await laidOutLtr(page, '#announcements .announcement .tag')).toBe(true);
    await page.context().close();
  });

  it('5,000-character words do not widen the page beyond the window (cards, banner, table, inbox, toast)', async () => {
    const page = await open(true);
    await page.locator('#toasts .toast').waitFor();
    await page.locator('#bell').click();
    await page.locator('#inbox-list .notification').first().waitFor();
    const overflow = await page.evaluate(() => {
      const width = window.innerWidth;
      const wide = [...document.querySelectorAll('.match, .announcement, table.league, #inbox, .toast, header, main')]
        .filter((el) => el.getBoundingClientRect().right > width + 1 || el.scrollWidth > el.clientWidth + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${(el as HTMLElement).className || el.id}`);
      return { page: document.documentElement.scrollWidth - width, wide };
    });
    expect(overflow).toEqual({ page: 0, wide: [] });
    await page.context().close();
  });

  it('carries a Content-Security-Policy: markup injected anywhere could not run script', async () => {
    const page = await open(false);
    const result = await page.evaluate(async () => {
      const violations: string[] = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.effectiveDirective));
      const div = document.createElement('div');
      div.innerHTML = `<img src="data:," onerror="window.__csp=1">`;
      document.body.appendChild(div);
      const script = document.createElement('script');
      script.textContent = 'window.__csp = 2';
      document.body.appendChild(script);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { ran: (window as { __csp?: number }).__csp ?? 0, violations };
    });
    expect(result.ran).toBe(0);
    expect(result.violations.length).toBeGreaterThan(0);
    // The page still works under it: live, with its cards, table and banner.
    expect(await page.locator('#m-m1').count()).toBe(1);
    await page.context().close();
  });

  afterAll(() => {
    expect(pageErrors).toEqual([]);
  });
});
