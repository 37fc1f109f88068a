/**
 * Private leagues against a real gateway (as a member of matchcast_gateway, so a missing grant
 * fails) and Postgres: a private league's league, team and match channels (and topics) only for
 * its members and admins, over WebSocket and SSE, for subscribe, resume and since; its events
 * never on all / live:all; GET /api/matches lists its matches only for them; removing a member or
 * making a league private ends open subscriptions with FORBIDDEN_CHANNEL naming the channel,
 * while other members keep receiving; and decisions are cached (no read per delivered message).
 * A public club playing a private cup keeps its followers (the cup's events are filtered per
 * event); a match or team moved into a private league ends its non-members' subscriptions.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, notifySigned, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { SseStream } from './sse-support';
import { TEST_SECRET, TestClient, token } from './support';

const SLOW_MS = 20_000;

describe('private leagues on a gateway', () => {
  let postgres: PostgresServer;
  let db: pg.Pool;
  let gateway: Gateway;
  let base: string;
  const sse: SseStream[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    await migrate(db);
    await db.query(`INSERT INTO league (id, name) VALUES ('epl', 'Premier League'), ('cup', 'Private Cup'), ('club', 'Club League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'),
        ('t1', 'cup', 'One'), ('t2', 'cup', 'Two'), ('k1', 'club', 'K One'), ('k2', 'club', 'K Two');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
        ('m1', 'epl', 'ars', 'che', now(), 'live'), ('c1', 'cup', 't1', 't2', now(), 'live'), ('k1m', 'club', 'k1', 'k2', now(), 'live')`);
    await db.query(`SELECT matchcast_add_league_member('cup', 'alice', 'root'), matchcast_add_league_member('cup', 'bob', 'root'),
      matchcast_set_league_private('cup', true), matchcast_add_league_member('club', 'alice', 'root')`);
    await db.query('CREATE ROLE gateway_login LOGIN IN ROLE matchcast_gateway');
    const url = new URL(postgres.url);
    url.username = 'gateway_login';
    url.password = '';
    const config = loadConfig(
      new EnvReader({ DATABASE_URL: url.toString(), PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', SSE_POSITION_KEY: 'k'.repeat(32) }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    base = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    for (const stream of sse) stream.close();
    for (const client of clients) client.ws.terminate();
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  const connect = async (user: string, roles: string[] = []): Promise<TestClient> => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token(user, 600, { roles })}`);
    clients.push(client);
    await client.opened();
    return client;
  };
  /** The answer to one subscribe: `subscribed` or the error (messages are consumed so the next answer is fresh). */
  const answer = async (client: TestClient, request: Record<string, unknown>) => {
    client.messages.length = 0;
    client.send({ action: 'subscribe', channels: [], ...request });
    return client.next((m) => m.type === 'subscribed' || m.type === 'error', SLOW_MS);
  };
  const goal = (match: string, home: number) =>
    db.query(`INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ($1, $2, 0)
              ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score`, [match, home]);
  const of = (client: { messages: any[] }, stream: string) => client.messages.filter((m) => m.type === 'match_update' && m.stream === stream);
  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.opsPort}/metrics`)).text();
    return Number(/^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(name)).join('\n'))?.[2] ?? 0);
  };

  it("refuses a non-member every channel of a private league (league, team, match, topics, resume keys) with FORBIDDEN_CHANNEL; the connection lives on", async () => {
    const carol = await connect('carol');
    for (const request of [
      { channels: ['league:cup'] },
      { channels: ['team:t1'] },
      { channels: ['match:c1'] },
      { channels: ['match:c1/live'] },
      { channels: ['league:cup/results'] },
      { channels: ['all'], resume: { 'match:c1': 0 } },
      { channels: ['all'], resume: { 'league:cup': 0 } },
    ]) {
      expect(await answer(carol, request)).toMatchObject({ type: 'error', code: 'FORBIDDEN_CHANNEL' });
    }
    // A token without a user is refused the same way.
    expect(await answer(await connect('carol', ['service']), { channels: ['league:cup'] })).toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
    expect(await answer(carol, { channels: ['match:m1', 'league:epl', 'team:ars'] })).toEqual({ type: 'subscribed', channels: ['match:m1', 'league:epl', 'team:ars'] });
  });

  it('a member and an admin get its channels; all and live:all subscribers never get its events', async () => {
    const alice = await connect('alice');
    const admin = await connect('ops', ['admin']);
    const fan = await connect('carol');
    expect(await answer(alice, { channels: ['match:c1', 'team:t2', 'league:cup/live'] })).toEqual({ type: 'subscribed', channels: ['match:c1', 'team:t2', 'league:cup/live'] });
    expect(await answer(admin, { channels: ['league:cup', 'all'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(fan, { channels: ['all', 'live:all'] })).toMatchObject({ type: 'subscribed' });
    await goal('c1', 1);
    await goal('m1', 1);
    await waitFor('public goal on all', async () => (of(fan, 'match:m1').length > 0 ? true : undefined), SLOW_MS);
    await waitFor('private goal for alice', async () => (of(alice, 'match:c1').length > 0 ? true : undefined), SLOW_MS);
    await waitFor('private goal for the admin', async () => (of(admin, 'match:c1').length > 0 ? true : undefined), SLOW_MS);
    // Once each: the most specific channel alice has (match:c1), the admin's on league:cup (not all).
    expect(of(alice, 'match:c1').map((m) => m.channel)).toEqual(['match:c1']);
    expect(of(admin, 'match:c1').map((m) => m.channel)).toEqual(['league:cup']);
    expect(of(fan, 'match:c1')).toEqual([]);
    expect(of(admin, 'match:m1').map((m) => m.channel)).toEqual(['all']);
  });

  it('since never expands to a private league for a non-member; resume and since work for a member', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    const fan = await connect('carol');
    expect(await answer(fan, { channels: ['all', 'live:all'], since: from })).toMatchObject({ type: 'subscribed' });
    await fan.next((m) => m.type === 'resumed', SLOW_MS);
    expect(fan.messages.filter((m) => m.stream === 'match:c1' || m.stream === 'league:cup')).toEqual([]);
    expect(of(fan, 'match:m1').length).toBeGreaterThan(0);
    const bob = await connect('bob');
    expect(await answer(bob, { channels: ['match:c1'], resume: { 'match:c1': 0 } })).toMatchObject({ type: 'subscribed' });
    await bob.next((m) => m.type === 'resumed', SLOW_MS);
    expect(of(bob, 'match:c1').length).toBeGreaterThan(0);
  });

  it('over SSE: a non-member gets 403 FORBIDDEN_CHANNEL (channels and resume), a member streams, and since skips the private league', async () => {
    const open = async (user: string, query: string) => {
      const stream = new SseStream(`${base}/sse?${query}&token=${await token(user, 600)}`);
      sse.push(stream);
      await stream.opened();
      return stream;
    };
    for (const query of ['channels=league:cup', 'channels=match:c1/live', `channels=all&resume=${encodeURIComponent('{"match:c1":0}')}`]) {
      const refused = await open('carol', query);
      await refused.done;
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: 'FORBIDDEN_CHANNEL' });
    }
    const member = await open('bob', 'channels=team:t1');
    expect(member.status).toBe(200);
    const fan = await open('carol', `channels=all&since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`);
    await fan.next((e) => e.json?.type === 'resumed', SLOW_MS);
    await goal('c1', 2);
    await member.next((e) => e.json?.stream === 'match:c1' && e.json?.data?.score?.home === 2, SLOW_MS);
    await goal('m1', 2);
    await fan.next((e) => e.json?.stream === 'match:m1' && e.json?.data?.score?.home === 2, SLOW_MS);
    expect(fan.streamEvents.filter((e: any) => e.stream === 'match:c1')).toEqual([]);
  });

  it('GET /api/matches lists a private league only for its members and admins, in answers no cache keeps', async () => {
    const list = async (auth?: string) => {
      const res = await fetch(`${base}/api/matches`, { headers: auth ? { authorization: `Bearer ${auth}` } : {} });
      // A shared cache in front must not hand a member's list (or anyone's) to another caller.
      expect(res.headers.get('cache-control')).toBe('no-store');
      return { status: res.status, ids: ((await res.json()) as any).matches?.map((m: any) => m.match.match_id).sort() };
    };
    expect((await list()).ids).toEqual(['k1m', 'm1']);
    expect((await list(await token('carol', 600))).ids).toEqual(['k1m', 'm1']);
    expect((await list(await token('alice', 600))).ids).toEqual(['c1', 'k1m', 'm1']);
    expect((await list(await token('ops', 600, { roles: ['admin'] }))).ids).toEqual(['c1', 'k1m', 'm1']);
    expect((await list('not-a-token')).status).toBe(401);
  });

  it('removing a member mid-connection ends their subscriptions with FORBIDDEN_CHANNEL per channel; another member keeps receiving; no read per message', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    expect(await answer(alice, { channels: ['match:c1', 'league:cup/live', 'match:m1'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(bob, { channels: ['match:c1'] })).toMatchObject({ type: 'subscribed' });
    const reads = await metric('matchcast_gateway_league_access_reads_total');
    expect(reads).toBeGreaterThan(0);
    await db.query(`SELECT matchcast_remove_league_member('cup', 'alice')`);
    const lost = await Promise.all(['match:c1', 'league:cup/live'].map((channel) => alice.next((m) => m.type === 'error' && m.channel === channel, SLOW_MS)));
    for (const error of lost) expect(error.code).toBe('FORBIDDEN_CHANNEL');
    const before = of(alice, 'match:c1').length;
    for (let home = 3; home <= 6; home++) await goal('c1', home);
    await goal('m1', 3);
    await waitFor('bob gets the last goal', async () => (of(bob, 'match:c1').some((m) => m.data.score.home === 6) ? true : undefined), SLOW_MS);
    await waitFor('alice keeps her public match', async () => (of(alice, 'match:m1').some((m) => m.data.score.home === 3) ? true : undefined), SLOW_MS);
    expect(of(alice, 'match:c1').length).toBe(before);
    expect(of(bob, 'match:c1').map((m) => m.data.score.home)).toEqual([3, 4, 5, 6]);
    // Delivery and the re-check read nothing: the change was applied from its event.
    expect(await metric('matchcast_gateway_league_access_reads_total')).toBe(reads);
    // She cannot come back; added again, she can.
    expect(await answer(alice, { channels: ['match:c1'] })).toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
    await db.query(`SELECT matchcast_add_league_member('cup', 'alice', 'root')`);
    await waitFor('alice readmitted', async () => ((await answer(alice, { channels: ['match:c1'] })).type === 'subscribed' ? true : undefined), SLOW_MS);
  });

  it('a privacy flip takes effect: a league made private drops non-members (SSE too) and leaves all; made public again, anyone may subscribe', async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    const fan = await connect('dave');
    expect(await answer(carol, { channels: ['team:k1', 'match:m1'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(alice, { channels: ['team:k1'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(fan, { channels: ['all'] })).toMatchObject({ type: 'subscribed' });
    const carolSse = new SseStream(`${base}/sse?channels=league:club&token=${await token('carol', 600)}`);
    sse.push(carolSse);
    await carolSse.opened();
    await carolSse.next((e) => e.json?.type === 'subscribed', SLOW_MS);
    await db.query(`SELECT matchcast_set_league_private('club', true)`);
    expect(await carol.next((m) => m.type === 'error', SLOW_MS)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channel: 'team:k1' });
    await carolSse.next((e) => e.json?.type === 'error' && e.json?.code === 'FORBIDDEN_CHANNEL' && e.json?.channel === 'league:club', SLOW_MS);
    await goal('k1m', 1);
    await waitFor('alice (a member) gets it', async () => (of(alice, 'match:k1m').length > 0 ? true : undefined), SLOW_MS);
    await goal('m1', 4);
    await waitFor('dave gets the public goal', async () => (of(fan, 'match:m1').some((m) => m.data.score.home === 4) ? true : undefined), SLOW_MS);
    expect(of(fan, 'match:k1m')).toEqual([]);
    expect(of(carol, 'match:k1m')).toEqual([]);
    expect(carolSse.streamEvents.filter((e: any) => e.stream === 'match:k1m')).toEqual([]);
    await db.query(`SELECT matchcast_set_league_private('club', false)`);
    await waitFor('carol may subscribe again', async () => ((await answer(carol, { channels: ['team:k1'] })).type === 'subscribed' ? true : undefined), SLOW_MS);
    await goal('k1m', 2);
    await waitFor('all carries the public league again', async () => (of(fan, 'match:k1m').length > 0 ? true : undefined), SLOW_MS);
  });

  it("a channel subscribed before its match existed ends when the match turns out to be a private league's, before any of its events", async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    expect(await answer(carol, { channels: ['match:n1'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(alice, { channels: ['match:n1'] })).toMatchObject({ type: 'subscribed' });
    // A private league no client of this gateway has asked about: its members are not known here.
    await db.query(`INSERT INTO league (id, name) VALUES ('vip', 'VIP Cup');
      INSERT INTO team (id, league_id, name) VALUES ('v1', 'vip', 'V One'), ('v2', 'vip', 'V Two')`);
    await db.query(`SELECT matchcast_add_league_member('vip', 'alice', 'root'), matchcast_set_league_private('vip', true)`);
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('n1', 'vip', 'v1', 'v2', now(), 'live')`);
    await goal('n1', 1);
    expect(await carol.next((m) => m.type === 'error', SLOW_MS)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channel: 'match:n1' });
    // Alice too (the gateway could not tell her a member without a read); she subscribes again and is granted.
    expect(await alice.next((m) => m.type === 'error', SLOW_MS)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channel: 'match:n1' });
    expect(await answer(alice, { channels: ['match:n1'] })).toMatchObject({ type: 'subscribed' });
    await goal('n1', 2);
    await waitFor('alice gets the next goal', async () => (of(alice, 'match:n1').some((m) => m.data.score.home === 2) ? true : undefined), SLOW_MS);
    expect(carol.messages.filter((m) => m.stream === 'match:n1')).toEqual([]);
  });

  it('a league turning private ends the subscriptions to its matches before their next event goes out (the league never read here)', async () => {
    const carol = await connect('carol');
    expect(await answer(carol, { channels: ['match:p1', 'match:m1'] })).toMatchObject({ type: 'subscribed' });
    await db.query(`INSERT INTO league (id, name) VALUES ('pub', 'Open League');
      INSERT INTO team (id, league_id, name) VALUES ('p1h', 'pub', 'P Home'), ('p1a', 'pub', 'P Away');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('p1', 'pub', 'p1h', 'p1a', now(), 'live')`);
    await goal('p1', 1);
    await waitFor('carol gets the public goal', async () => (of(carol, 'match:p1').some((m) => m.data.score.home === 1) ? true : undefined), SLOW_MS);
    await db.query(`SELECT matchcast_set_league_private('pub', true)`);
    const before = of(carol, 'match:p1').length;
    await goal('p1', 2);
    expect(await carol.next((m) => m.type === 'error', SLOW_MS)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channel: 'match:p1' });
    await goal('m1', 7);
    // The goals are on one LISTEN connection, in order: once m1's is here, p1's was handled.
    await waitFor('carol keeps her public match', async () => (of(carol, 'match:m1').some((m) => m.data.score.home === 7) ? true : undefined), SLOW_MS);
    expect(of(carol, 'match:p1').length).toBe(before);
  });

  it('a league_access event forged with the signing key grants nothing, on its own league\'s stream (next seq) or on another', async () => {
    const mallory = await connect('mallory');
    expect(await answer(mallory, { channels: ['league:cup', 'match:m1'] })).toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
    expect(await answer(mallory, { channels: ['match:m1'] })).toMatchObject({ type: 'subscribed' });
    const { rows } = await db.query<{ seq: number }>(`SELECT max(seq)::int AS seq FROM outbox WHERE stream = 'league:cup'`);
    // Signed: without the key the gateway drops it unread (signed-notifications.test.ts); this is what the key's holder could do.
    const forge = (stream: string, seq: number) =>
      notifySigned(
        db,
        'league_access_change',
        JSON.stringify({
          id: '999999', stream, seq, type: 'league_access', timestamp: new Date().toISOString(), match_id: null,
          data: { league_id: 'cup', change: 'member_added', private: false, user_id: 'mallory' },
        }),
      );
    await forge('league:zz-forged', 1);
    await forge('league:cup', rows[0]!.seq + 1);
    // A real event after them: once it is here, the forged ones were handled (one LISTEN connection, in order).
    await goal('m1', 8);
    await waitFor('mallory gets the public goal', async () => (of(mallory, 'match:m1').some((m) => m.data.score.home === 8) ? true : undefined), SLOW_MS);
    expect(await answer(mallory, { channels: ['league:cup'] })).toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
    expect(await answer(mallory, { channels: ['match:c1'] })).toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
  });

  it("a team channel subscribed before its team existed ends when the team turns out to be a private league's, before its announcements", async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    await db.query(`INSERT INTO league (id, name) VALUES ('vip2', 'VIP Two'), ('vip3', 'VIP Three')`);
    await db.query(`SELECT matchcast_add_league_member(l, 'alice', 'root'), matchcast_set_league_private(l, true) FROM unnest(ARRAY['vip2', 'vip3']) l`);
    // nt3 joins vip3, whose privacy this gateway knows (alice asked); nt2 vip2, which no client here has asked about.
    expect(await answer(alice, { channels: ['league:vip3'] })).toMatchObject({ type: 'subscribed' });
    for (const client of [carol, alice]) {
      expect(await answer(client, { channels: ['team:nt3', 'team:nt3/announcements', 'team:nt2/announcements'] })).toMatchObject({ type: 'subscribed' });
    }
    await db.query(`INSERT INTO team (id, league_id, name) VALUES ('nt3', 'vip3', 'New Three'), ('nt2', 'vip2', 'New Two')`);
    const ended = () => carol.messages.filter((m) => m.type === 'error' && m.code === 'FORBIDDEN_CHANNEL').map((m) => m.channel).sort();
    await waitFor('carol loses every channel of the new private teams', async () => (ended().length === 3 ? true : undefined), SLOW_MS);
    expect(ended()).toEqual(['team:nt2/announcements', 'team:nt3', 'team:nt3/announcements']);
    for (const team of ['nt3', 'nt2']) {
      await db.query(`SELECT matchcast_create_announcement('members only', 'm', 'general', 'normal', 'team', $1, NULL, NULL, 'root')`, [team]);
    }
    const announced = (client: TestClient) => client.messages.filter((m) => m.type === 'announcement').map((m) => m.stream).sort();
    await waitFor('alice, a member, gets both announcements', async () => (announced(alice).length === 2 ? true : undefined), SLOW_MS);
    expect(announced(alice)).toEqual(['team:nt2', 'team:nt3']);
    expect(alice.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(announced(carol)).toEqual([]);
  });

  it("keeps a private league's match off a public team's channel for non-members (a club in a private cup)", async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    expect(await answer(carol, { channels: ['team:che'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(alice, { channels: ['team:che', 'league:cup'] })).toMatchObject({ type: 'subscribed' });
    // Chelsea is the public league's; this match is the private cup's.
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('cx', 'cup', 'che', 't1', now(), 'live')`);
    await goal('cx', 1);
    await goal('m1', 9);
    await waitFor('alice, a member, gets the cup match on the team channel', async () => (of(alice, 'match:cx').some((m) => m.data.score.home === 1) ? true : undefined), SLOW_MS);
    await waitFor('carol gets the public match', async () => (of(carol, 'match:m1').some((m) => m.data.score.home === 9) ? true : undefined), SLOW_MS);
    expect(carol.messages.filter((m) => m.stream === 'match:cx')).toEqual([]);
  });

  it("a public club's followers keep team:<id> when it plays a private cup, also while its own league's state is being read again, and get only its public events", async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    expect(await answer(carol, { channels: ['team:ars'] })).toMatchObject({ type: 'subscribed' });
    expect(await answer(alice, { channels: ['team:ars'] })).toMatchObject({ type: 'subscribed' });
    // A member added to the public league: its cached state is only stale (read again at the next decision).
    await db.query(`SELECT matchcast_add_league_member('epl', 'dave', 'root')`);
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('ca', 'cup', 'ars', 't2', now(), 'live')`);
    await goal('ca', 1);
    await waitFor('alice, a member, gets the cup match on the team channel', async () => (of(alice, 'match:ca').some((m) => m.data.score.home === 1) ? true : undefined), SLOW_MS);
    await goal('m1', 11);
    await waitFor("carol gets Arsenal's public match", async () => (of(carol, 'match:m1').some((m) => m.data.score.home === 11) ? true : undefined), SLOW_MS);
    expect(carol.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(carol.messages.filter((m) => m.stream === 'match:ca')).toEqual([]);
  });

  it("a public club that first appears in a private cup's table (created in the same commit) keeps its followers; the cup's events stay the members'", async () => {
    const carol = await connect('carol');
    expect(await answer(carol, { channels: ['team:nv', 'team:nv/announcements'] })).toMatchObject({ type: 'subscribed' });
    await db.query(`BEGIN;
      INSERT INTO team (id, league_id, name) VALUES ('nv', 'epl', 'New Visitor');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('cv', 'cup', 'nv', 't1', now(), 'finished');
      COMMIT`);
    await db.query(`SELECT matchcast_create_announcement('for followers', 'm', 'general', 'normal', 'team', 'nv', NULL, NULL, 'root')`);
    await waitFor('carol gets the public club\'s announcement', async () => (carol.messages.some((m) => m.type === 'announcement' && m.stream === 'team:nv') ? true : undefined), SLOW_MS);
    expect(carol.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(carol.messages.filter((m) => m.stream === 'match:cv' || m.stream === 'league:cup')).toEqual([]);
  });

  it("a match moved into a private league ends its non-members' match channel before any of its private events", async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    expect(await answer(carol, { channels: ['match:mv', 'match:m1'] })).toMatchObject({ type: 'subscribed' });
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('mv', 'epl', 'ars', 'che', now(), 'live')`);
    await goal('mv', 1);
    await waitFor('carol gets the public goal', async () => (of(carol, 'match:mv').some((m) => m.data.score.home === 1) ? true : undefined), SLOW_MS);
    await db.query(`UPDATE match SET league_id = 'cup' WHERE id = 'mv'`);
    expect(await answer(alice, { channels: ['match:mv'] })).toMatchObject({ type: 'subscribed' });
    await goal('mv', 2);
    await waitFor('alice, a member, gets the private goal', async () => (of(alice, 'match:mv').some((m) => m.data.score.home === 2) ? true : undefined), SLOW_MS);
    await goal('m1', 12);
    await waitFor('carol keeps her public match', async () => (of(carol, 'match:m1').some((m) => m.data.score.home === 12) ? true : undefined), SLOW_MS);
    expect(of(carol, 'match:mv').some((m) => m.data.score.home === 2)).toBe(false);
    expect(carol.messages.filter((m) => m.type === 'error')).toMatchObject([{ code: 'FORBIDDEN_CHANNEL', channel: 'match:mv' }]);
  });

  it("a team moved into a private league ends its non-members' team channels (its table names it) before its announcements", async () => {
    const carol = await connect('carol');
    expect(await answer(carol, { channels: ['team:k2', 'team:k2/announcements'] })).toMatchObject({ type: 'subscribed' });
    await db.query(`UPDATE team SET league_id = 'cup' WHERE id = 'k2'`);
    const ended = () => carol.messages.filter((m) => m.type === 'error' && m.code === 'FORBIDDEN_CHANNEL').map((m) => m.channel).sort();
    await waitFor('carol loses both channels of the moved team', async () => (ended().length === 2 ? true : undefined), SLOW_MS);
    expect(ended()).toEqual(['team:k2', 'team:k2/announcements']);
  });

  it("a team or league subscribed before it existed gets none of its own events (announcements, table) once it turns out to be a private league's, also those in the commit that created it", async () => {
    const carol = await connect('carol');
    const alice = await connect('alice');
    const channels = ['team:nt5', 'team:nt5/announcements', 'league:vip6'];
    for (const client of [carol, alice]) expect(await answer(client, { channels })).toMatchObject({ type: 'subscribed' });
    await db.query(`INSERT INTO league (id, name) VALUES ('vip5', 'VIP Five')`);
    await db.query(`SELECT matchcast_add_league_member('vip5', 'alice', 'root'), matchcast_set_league_private('vip5', true)`);
    // One commit: the team, and an announcement for it before its league's table is written (at commit).
    await db.query(`BEGIN;
      INSERT INTO team (id, league_id, name) VALUES ('nt5', 'vip5', 'New Five');
      SELECT matchcast_create_announcement('members only', 'm', 'general', 'normal', 'team', 'nt5', NULL, NULL, 'root');
      COMMIT`);
    // A league created private by hand (no league_access event), with a team and an announcement.
    await db.query(`BEGIN;
      INSERT INTO league (id, name, private) VALUES ('vip6', 'VIP Six', true);
      INSERT INTO league_member (league_id, user_id, added_by) VALUES ('vip6', 'alice', 'root');
      SELECT matchcast_create_announcement('members only', 'm', 'general', 'normal', 'league', 'vip6', NULL, NULL, 'root');
      INSERT INTO team (id, league_id, name) VALUES ('nt6', 'vip6', 'New Six');
      COMMIT`);
    const ended = () => carol.messages.filter((m) => m.type === 'error' && m.code === 'FORBIDDEN_CHANNEL').map((m) => m.channel).sort();
    await waitFor('carol loses every channel', async () => (ended().length === 3 ? true : undefined), SLOW_MS);
    expect(ended()).toEqual(['league:vip6', 'team:nt5', 'team:nt5/announcements']);
    expect(carol.messages.filter((m) => m.type !== 'error' && m.type !== 'subscribed')).toEqual([]);
  });
});
