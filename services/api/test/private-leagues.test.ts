/**
 * Private competitions through the API against a real Postgres as the matchcast_api login: admins
 * set privacy and members; a private league's table, schedule and announcements are 404 for
 * anyone but its members and admins (exactly like an unknown league); every change appends one
 * league_access event on league:<id>; a private league's match events skip all and live:all
 * (the snapshot carries league.private); bad input.
 */
import type pg from 'pg';
import { routeEvent } from '@matchcast/protocol';
import { call, startDatabase, startTestApi, token, userStream, type PostgresServer } from './support';

describe('api: private leagues', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let boss: string;
  let member: string;
  let outsider: string;

  beforeAll(async () => {
    let apiUrl: string;
    ({ server, admin, apiUrl } = await startDatabase());
    api = await startTestApi(apiUrl);
    [boss, member, outsider] = await Promise.all([token('boss', ['admin']), token('member'), token('outsider')]);
    await admin.query(`INSERT INTO league (id, name) VALUES ('cup', 'Private Cup');
      INSERT INTO team (id, league_id, name) VALUES ('t1', 'cup', 'One'), ('t2', 'cup', 'Two');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('c1', 'cup', 't1', 't2', now())`);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.end();
    await server?.destroy();
  });

  const access = async () =>
    (await admin.query(`SELECT seq::int, type, data FROM outbox WHERE stream = 'league:cup' AND type = 'league_access' ORDER BY seq`)).rows;

  it('a league is public by default: anyone reads its table', async () => {
    expect((await call(api.url, 'GET', '/api/leagues/cup/table')).status).toBe(200);
    expect((await call(api.url, 'GET', '/api/leagues/cup', { token: boss })).body).toEqual({ id: 'cup', name: 'Private Cup', country: null, private: false });
  });

  it('admins add members (201, then 200 for a repeat) and make the league private; each change is one league_access event', async () => {
    expect((await call(api.url, 'PUT', '/api/leagues/cup/members/member', { token: boss })).status).toBe(201);
    expect((await call(api.url, 'PUT', '/api/leagues/cup/members/member', { token: boss })).status).toBe(200);
    const patched = await call(api.url, 'PATCH', '/api/leagues/cup', { token: boss, json: { private: true } });
    expect(patched.status).toBe(200);
    expect(patched.body.private).toBe(true);
    expect((await call(api.url, 'PATCH', '/api/leagues/cup', { token: boss, json: { private: true } })).status).toBe(200);
    expect((await access()).map((e) => [e.data.change, e.data.private, e.data.user_id])).toEqual([
      ['member_added', false, 'member'],
      ['privacy', true, null],
    ]);
    const members = await call(api.url, 'GET', '/api/leagues/cup/members', { token: boss });
    expect(members.body.members.map((m: any) => [m.user_id, m.added_by])).toEqual([['member', 'boss']]);
  });

  it.each([
    ['/api/leagues/cup/table'],
    ['/api/leagues/cup/schedule'],
    ['/api/announcements?target=league&target_id=cup'],
    ['/api/announcements?target=team&target_id=t1'],
    ['/api/announcements?target=match&target_id=c1'],
  ])('%s: 404 for a non-member and without a token, 200 for a member and an admin', async (path) => {
    for (const as of [outsider, undefined]) {
      const answer = await call(api.url, 'GET', path, { token: as });
      expect(answer.status).toBe(404);
      expect(answer.body.error).toBe('NOT_FOUND');
    }
    expect((await call(api.url, 'GET', path, { token: member })).status).toBe(200);
    expect((await call(api.url, 'GET', path, { token: boss })).status).toBe(200);
  });

  it('a published announcement on a private target by id: 404 for others, readable for members; urgent: notifies member followers only', async () => {
    // The outsider followed the match (e.g. while the league was public): no notification now.
    await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('outsider', 'match', 'c1'), ('member', 'league', 'cup')`);
    const created = await call(api.url, 'POST', '/api/announcements', {
      token: boss, json: { title: 'Members only', message: 'Gates open at 6', type: 'general', priority: 'urgent', target: 'match', target_id: 'c1' },
    });
    // The notifier's round (migration 020): the followers' notifications.
    await admin.query(`SELECT matchcast_run_announcement_fanout(1000)`);
    expect((await userStream(admin, 'member')).map((e) => e.data.title)).toEqual(['Members only']);
    expect(await userStream(admin, 'outsider')).toEqual([]);
    expect(created.status).toBe(201);
    const path = `/api/announcements/${created.body.id}`;
    expect((await call(api.url, 'GET', path, { token: outsider })).status).toBe(404);
    expect((await call(api.url, 'GET', path)).status).toBe(404);
    expect((await call(api.url, 'GET', path, { token: member })).status).toBe(200);
  });

  it("a private league's match events carry league.private and route to its channels only (never all / live:all)", async () => {
    await admin.query(`UPDATE match SET status = 'live' WHERE id = 'c1'`);
    const { rows } = await admin.query(`SELECT stream, match_id, data FROM outbox WHERE stream = 'match:c1' ORDER BY seq DESC LIMIT 1`);
    expect(rows[0].data.league).toEqual({ id: 'cup', name: 'Private Cup', private: true });
    expect(routeEvent(rows[0])).toEqual(['match:c1', 'team:t1', 'team:t2', 'league:cup']);
    // A public league's snapshot is unchanged (no private key), and its live events reach live:all and all.
    const epl = (await admin.query(`SELECT matchcast_match_snapshot('m1') AS s`)).rows[0].s;
    expect(epl.league).toEqual({ id: 'epl', name: 'Premier League' });
  });

  it('following a private league, its team or its match: 404 for a non-member (as an unknown id), 201 for a member', async () => {
    for (const path of ['league/cup', 'team:t1', 'match/c1'].map((p) => p.replace(':', '/'))) {
      const refused = await call(api.url, 'PUT', `/api/me/follows/${path}`, { token: outsider });
      expect(refused.status).toBe(404);
      expect(refused.body.error).toBe('NOT_FOUND');
      expect((await call(api.url, 'PUT', `/api/me/follows/${path}`, { token: member })).status).toBeLessThan(300);
    }
  });

  it("the follow list names a private league's league, team or match only to its members (a follow from while it was public)", async () => {
    await admin.query(`INSERT INTO league (id, name) VALUES ('hid', 'Hidden Cup');
      INSERT INTO team (id, league_id, name) VALUES ('h1', 'hid', 'Secret One'), ('h2', 'hid', 'Secret Two');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('hm', 'hid', 'h1', 'h2', now())`);
    const fan = await token('early-fan');
    for (const path of ['league/hid', 'team/h1', 'match/hm']) {
      expect((await call(api.url, 'PUT', `/api/me/follows/${path}`, { token: fan })).status).toBe(201);
    }
    expect((await call(api.url, 'PUT', '/api/leagues/hid/members/early-member', { token: boss })).status).toBe(201);
    expect((await call(api.url, 'PUT', '/api/me/follows/league/hid', { token: await token('early-member') })).status).toBe(201);
    expect((await call(api.url, 'PATCH', '/api/leagues/hid', { token: boss, json: { private: true } })).status).toBe(200);
    await admin.query(`UPDATE league SET name = 'Renamed While Private' WHERE id = 'hid'`);
    const names = async (as: string) =>
      (await call(api.url, 'GET', '/api/me/follows', { token: as })).body.follows.map((f: any) => [f.kind, f.id, f.name]).sort();
    expect(await names(fan)).toEqual([
      ['league', 'hid', null],
      ['match', 'hm', null],
      ['team', 'h1', null],
    ]);
    expect(await names(await token('early-member'))).toEqual([['league', 'hid', 'Renamed While Private']]);
  });

  it("buying tickets for a private league's match: 404 NOT_FOUND for a non-member, 201 for a member", async () => {
    const refused = await call(api.url, 'POST', '/api/purchases', { token: outsider, json: { match_id: 'c1', quantity: 1 } });
    expect(refused.status).toBe(404);
    expect(refused.body.error).toBe('NOT_FOUND');
    expect((await call(api.url, 'POST', '/api/purchases', { token: member, json: { match_id: 'c1', quantity: 1, idempotency_key: 'cup-checkout' } })).status).toBe(201);
  });

  it('removing a member takes effect at once (404), with one member_removed event; removing again is 404', async () => {
    const before = (await access()).length;
    expect((await call(api.url, 'DELETE', '/api/leagues/cup/members/member', { token: boss })).status).toBe(204);
    expect((await call(api.url, 'GET', '/api/leagues/cup/table', { token: member })).status).toBe(404);
    const again = await call(api.url, 'DELETE', '/api/leagues/cup/members/member', { token: boss });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('NOT_FOUND');
    const events = await access();
    expect(events.length).toBe(before + 1);
    expect(events[events.length - 1].data).toEqual({ league_id: 'cup', change: 'member_removed', private: true, user_id: 'member' });
  });

  it("a removed member's retry of the purchase they made answers it (200), as any replay of its key; a new one is 404", async () => {
    const [purchase] = (await admin.query(`SELECT id::text FROM purchase WHERE user_id = 'member' AND match_id = 'c1'`)).rows;
    const retry = await call(api.url, 'POST', '/api/purchases', { token: member, json: { match_id: 'c1', quantity: 1, idempotency_key: 'cup-checkout' } });
    expect(retry).toMatchObject({ status: 200, body: { id: purchase.id, match_id: 'c1' } });
    const reused = await call(api.url, 'POST', '/api/purchases', { token: member, json: { match_id: 'c1', quantity: 2, idempotency_key: 'cup-checkout' } });
    expect(reused).toMatchObject({ status: 409, body: { error: 'IDEMPOTENCY_KEY_REUSED' } });
    for (const key of [undefined, 'cup-another']) {
      const refused = await call(api.url, 'POST', '/api/purchases', { token: member, json: { match_id: 'c1', quantity: 1, idempotency_key: key } });
      expect(refused).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    }
    expect((await admin.query(`SELECT count(*)::int AS n FROM purchase WHERE user_id = 'member'`)).rows[0].n).toBe(1);
  });

  it("a removed member still hears of the purchase they made: cancelled by the payment side, it is on the buyer's own stream", async () => {
    const [purchase] = (await admin.query(`SELECT id::text FROM purchase WHERE user_id = 'member' AND match_id = 'c1'`)).rows;
    const payments = await token('payments', ['service']);
    expect((await call(api.url, 'PATCH', `/api/purchases/${purchase.id}`, { token: payments, json: { status: 'cancelled' } })).status).toBe(200);
    const notes = (await userStream(admin, 'member')).filter((e) => e.data.data?.purchase_id === purchase.id);
    expect(notes.map((e) => e.data.data.status)).toEqual(['pending', 'cancelled']);
    expect((await call(api.url, 'GET', '/api/notifications', { token: member })).body.notifications.map((n: any) => n.title)).toContain('Purchase cancelled');
  });

  it('making it public again opens it to everyone', async () => {
    expect((await call(api.url, 'PATCH', '/api/leagues/cup', { token: boss, json: { private: false } })).body.private).toBe(false);
    expect((await call(api.url, 'GET', '/api/leagues/cup/table', { token: outsider })).status).toBe(200);
    expect((await call(api.url, 'GET', '/api/leagues/cup/table')).status).toBe(200);
  });

  it('the member list is paged: at most 1000 (or limit) by user id, next_cursor to continue; a bad limit or cursor is 400', async () => {
    await admin.query(`INSERT INTO league (id, name) VALUES ('big', 'Big Private League')`);
    await admin.query(`INSERT INTO league_member (league_id, user_id, added_by) SELECT 'big', 'u' || lpad(i::text, 5, '0'), 'boss' FROM generate_series(1, 2500) i`);
    const seen: string[] = [];
    let path = '/api/leagues/big/members';
    for (let page = 0; page < 5 && path; page++) {
      const answer = await call(api.url, 'GET', path, { token: boss });
      expect(answer.status).toBe(200);
      expect(answer.body.members.length).toBeLessThanOrEqual(1000);
      seen.push(...answer.body.members.map((m: any) => m.user_id));
      path = answer.body.next_cursor ? `/api/leagues/big/members?cursor=${answer.body.next_cursor}` : '';
    }
    expect(path).toBe('');
    expect(seen).toEqual(Array.from({ length: 2500 }, (_, i) => `u${String(i + 1).padStart(5, '0')}`));
    const small = await call(api.url, 'GET', '/api/leagues/big/members?limit=2', { token: boss });
    expect(small.body.members.map((m: any) => m.user_id)).toEqual(['u00001', 'u00002']);
    const next = await call(api.url, 'GET', `/api/leagues/big/members?limit=2&cursor=${small.body.next_cursor}`, { token: boss });
    expect(next.body.members.map((m: any) => m.user_id)).toEqual(['u00003', 'u00004']);
    for (const query of ['limit=0', 'limit=1001', 'cursor=x', `cursor=${Buffer.from('n1.5').toString('base64url')}`, 'limit=1&limit=2']) {
      expect(await call(api.url, 'GET', `/api/leagues/big/members?${query}`, { token: boss })).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
    }
  });

  it('only admins manage leagues: 401 without a token, 403 for a fan', async () => {
    for (const [method, path, json] of [
      ['PATCH', '/api/leagues/cup', { private: true }],
      ['PUT', '/api/leagues/cup/members/outsider', undefined],
      ['DELETE', '/api/leagues/cup/members/member', undefined],
      ['GET', '/api/leagues/cup/members', undefined],
      ['GET', '/api/leagues/cup', undefined],
    ] as const) {
      expect((await call(api.url, method, path, { json })).status).toBe(401);
      const fan = await call(api.url, method, path, { token: member, json });
      expect(fan.status).toBe(403);
      expect(fan.body.error).toBe('FORBIDDEN');
    }
  });

  it.each([
    ['a non-boolean private', { private: 'yes' }, 'VALIDATION_FAILED'],
    ['no private', {}, 'VALIDATION_FAILED'],
    ['an unknown field', { private: true, name: 'x' }, 'VALIDATION_FAILED'],
    ['not an object', [true], 'BAD_REQUEST'],
  ])('PATCH with %s: 400', async (_name, json, code) => {
    const answer = await call(api.url, 'PATCH', '/api/leagues/cup', { token: boss, json });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe(code);
  });

  it('unknown leagues and bad ids', async () => {
    expect((await call(api.url, 'PUT', '/api/leagues/nope/members/x', { token: boss })).status).toBe(404);
    expect((await call(api.url, 'DELETE', '/api/leagues/nope/members/x', { token: boss })).status).toBe(404);
    expect((await call(api.url, 'PATCH', '/api/leagues/nope', { token: boss, json: { private: true } })).status).toBe(404);
    expect((await call(api.url, 'GET', '/api/leagues/nope/members', { token: boss })).status).toBe(404);
    const bad = await call(api.url, 'PUT', '/api/leagues/cup/members/bad%20id', { token: boss });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('BAD_REQUEST');
  });
});
