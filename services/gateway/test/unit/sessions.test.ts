import type { ChangedStream } from '@matchcast/db';
import type { OutboxEvent } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import { Fanout } from '../../src/delivery/fanout';
import { SubscriptionRegistry } from '../../src/delivery/registry';
import { ANONYMOUS, TokenVerifier } from '@matchcast/auth';
import { LeagueAccess } from '../../src/sessions/league-access';
import type { Caller } from '../../src/sessions/replay';
import { StreamGate } from '../../src/sessions/stream-gate';
import { Sessions, type Client, type History, type SubscribeRequest } from '../../src/sessions/session';
import { FakeSubscriber, fakeMetrics, matchEvent, rethrow } from './fakes';

class FakeClient extends FakeSubscriber implements Client {
  identity = ANONYMOUS;
  readonly addressGroup = '192.0.2.1';
}

/** A history whose `since` look-up answers only when the test says so. */
class ControlledHistory implements History {
  readonly rows: OutboxEvent[] = [];
  private answer: ((value: ChangedStream[]) => void) | undefined;
  private failure: ((error: Error) => void) | undefined;
  lookUps = 0;

  changedSince(): Promise<ChangedStream[] | undefined> {
    this.lookUps++;
    return new Promise((resolve, reject) => {
      this.answer = resolve;
      this.failure = reject;
    });
  }
  /** stream_counter: what has been committed, whether or not this gateway has seen it. */
  readonly committed = new Map<string, number>();
  async committedHeads(streams: readonly string[]): Promise<Map<string, number>> {
    return new Map(streams.filter((stream) => this.committed.has(stream)).map((stream) => [stream, this.committed.get(stream) as number]));
  }
  answerWith(changed: ChangedStream[]): void {
    this.answer!(changed);
  }
  fail(): void {
    this.failure!(new Error('statement timeout'));
  }
  async replay(stream: string, afterSeq: number, head: number, caller: Caller, deliver: (e: OutboxEvent) => boolean): Promise<void> {
    for (const event of this.rows.filter((e) => e.stream === stream && e.seq > afterSeq && e.seq <= head)) {
      if (!caller.alive() || !deliver(event)) return;
    }
  }
}

function setup(leagueAccess?: LeagueAccess) {
  const registry = new SubscriptionRegistry();
  const fanout = new Fanout(registry, fakeMetrics('delivered', 'commitToSendSeconds'), rethrow);
  const heads = new Map<string, number>();
  const history = new ControlledHistory();
  const sessions = new Sessions(
    registry,
    { lastSeq: (stream) => heads.get(stream) ?? 0, known: async () => undefined },
    history,
    new TokenVerifier({ jwtSecret: undefined, keys: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined, clockToleranceMs: 0, rolesClaim: 'roles', requireToken: false }),
    { maxChannels: 10, maxReplayEvents: 1000, historyRetentionMs: 3_600_000 },
    fakeMetrics('clientErrors', 'replays'),
    createLogger('test', 'silent'),
    undefined,
    leagueAccess,
  );
  /** What the sequencer does for each event: advance the stream's position, apply its access news, then fan out. */
  const live = (event: OutboxEvent) => {
    heads.set(event.stream, event.seq);
    sessions.observe(event);
    fanout.deliver(event);
  };
  const client = new FakeClient('c');
  sessions.open(client);
  return { registry, heads, history, sessions, live, client };
}

const subscribe = (channels: string[], since = new Date(Date.now() - 60_000).toISOString()): SubscribeRequest =>
  ({ action: 'subscribe', channels, resume: new Map(), since });
const routing = (matchId: string): ChangedStream['routing'] => matchEvent(matchId, 1);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Sessions: subscribe with since', () => {
  it('delivers, from the hold, an event of a stream the look-up could not see yet — once', async () => {
    const { history, sessions, live, client } = setup();
    const done = sessions.subscribe(client, subscribe(['all']));
    await tick();
    expect(history.lookUps).toBe(1);
    live(matchEvent('new', 1)); // commits after the look-up's snapshot, arrives while it runs
    history.answerWith([]);
    await done;
    expect(client.log).toEqual(['all match:new@1']);
  });

  it('does not duplicate held events that the replay of a found stream covers', async () => {
    const { history, sessions, live, client } = setup();
    history.rows.push(matchEvent('a', 1), matchEvent('a', 2), matchEvent('a', 3));
    live(matchEvent('a', 1));
    const done = sessions.subscribe(client, subscribe(['all']));
    await tick();
    live(matchEvent('a', 2));
    live(matchEvent('a', 3));
    history.answerWith([{ stream: 'match:a', afterSeq: 0, routing: routing('a') }]);
    await done;
    expect(client.log).toEqual(['all match:a@1', 'all match:a@2', 'all match:a@3']);
    live(matchEvent('a', 4));
    expect(client.log.at(-1)).toBe('all match:a@4');
  });

  it('does not repeat a held event the client already had (resume position equal to the head)', async () => {
    const { history, sessions, live, client } = setup();
    history.committed.set('match:b', 6);
    const done = sessions.subscribe(client, { ...subscribe(['all']), resume: new Map([['match:b', 6]]) });
    await tick();
    live(matchEvent('b', 6)); // this gateway sees seq 6 only now; the client got it elsewhere
    history.answerWith([]);
    await done;
    live(matchEvent('b', 7));
    expect(client.log).toEqual(['all match:b@7']);
  });

  it('when the look-up fails: the new channels are undone, events of the channels it had go on', async () => {
    const { registry, history, sessions, live, client } = setup();
    await sessions.subscribe(client, { action: 'subscribe', channels: ['match:old'], resume: new Map() });
    const done = sessions.subscribe(client, subscribe(['match:new']));
    await tick();
    live(matchEvent('old', 1));
    live(matchEvent('new', 1));
    history.fail();
    await expect(done).rejects.toThrow('statement timeout');
    expect(client.log).toEqual(['match:old match:old@1']);
    expect([...client.channels]).toEqual(['match:old']);
    expect(registry.subscribers('match:new')).toBeUndefined();
    expect(client.holding).toBeUndefined();
  });

  it('leaves nothing behind for a client that closes during the look-up', async () => {
    const { registry, history, sessions, live, client } = setup();
    const done = sessions.subscribe(client, subscribe(['all']));
    await tick();
    sessions.closed(client);
    live(matchEvent('x', 1));
    history.answerWith([{ stream: 'match:x', afterSeq: 0, routing: routing('x') }]);
    await done;
    expect(registry.size).toBe(0);
    expect(registry.subscribers('all')).toBeUndefined();
    expect(client.log).toEqual([]);
  });
});

describe('Sessions: a resume position beyond the stream', () => {
  it('is refused with RESUME_TOO_OLD when the database never had that seq, and the stream then flows live', async () => {
    const { history, sessions, live, client } = setup();
    history.committed.set('match:c', 3);
    live(matchEvent('c', 3));
    await sessions.subscribe(client, { action: 'subscribe', channels: ['match:c'], resume: new Map([['match:c', 99_999]]) });
    expect(client.sent).toContainEqual(expect.objectContaining({ type: 'error', code: 'RESUME_TOO_OLD', stream: 'match:c' }));
    live(matchEvent('c', 4));
    expect(client.log).toEqual(['match:c match:c@4']);
  });

  it('is kept when the database has it but this gateway has not delivered it yet', async () => {
    const { history, sessions, live, client } = setup();
    history.committed.set('match:d', 5);
    live(matchEvent('d', 3));
    await sessions.subscribe(client, { action: 'subscribe', channels: ['match:d'], resume: new Map([['match:d', 5]]) });
    expect(client.sent.filter((message) => message.type === 'error')).toEqual([]);
    for (const seq of [4, 5, 6]) live(matchEvent('d', seq));
    expect(client.log).toEqual(['match:d match:d@6']);
  });
});

describe('Sessions: access taken away while a subscribe looks things up', () => {
  const cup = { league: { id: 'cup', private: true } };
  const removal = (seq: number, user: string): OutboxEvent => ({
    id: String(9000 + seq),
    stream: 'league:cup',
    seq,
    type: 'league_access',
    match_id: null,
    data: { league_id: 'cup', change: 'member_removed', private: true, user_id: user },
    timestamp: new Date().toISOString(),
  });

  it('does not subscribe the channel again nor hand over what was held of it; the answer leaves it out', async () => {
    const leagues = new LeagueAccess(async () => ({
      matches: new Map([['c1', 'cup']]),
      teams: new Map(),
      leagues: new Map([['cup', { private: true, members: new Set(['alice']) }]]),
    }));
    const { registry, history, sessions, live, client } = setup(leagues);
    client.identity = { userId: 'alice', roles: new Set(), expiresAtMs: undefined };
    const done = sessions.subscribe(client, subscribe(['match:c1', 'match:m1']));
    for (let i = 0; i < 5 && history.lookUps === 0; i++) await tick();
    expect(history.lookUps).toBe(1);
    live(matchEvent('c1', 1, cup));
    live(removal(1, 'alice'));
    live(matchEvent('c1', 2, cup));
    live(matchEvent('m1', 1));
    history.answerWith([]);
    await done;
    expect(client.sent.map((m) => (m.type === 'error' ? `${m.code} ${m.channel}` : `${m.type} ${'channels' in m ? m.channels.join(',') : ''}`))).toEqual([
      'FORBIDDEN_CHANNEL match:c1',
      'subscribed match:m1',
      'resumed match:m1',
    ]);
    expect([...client.channels]).toEqual(['match:m1']);
    expect(registry.subscribers('match:c1')).toBeUndefined();
    live(matchEvent('c1', 3, cup));
    expect(client.log).toEqual(['match:m1 match:m1@1']);
  });
});

describe('a team stream waiting for its read (StreamGate)', () => {
  it("does not take the answer of a read that was under way before the team existed: its announcement reaches no non-member of its private league", async () => {
    // The database as each read sees it when it runs; answers are let go when the test says.
    const teams = new Map<string, string>();
    const held: Array<() => void> = [];
    let holding = false;
    const leagues = new LeagueAccess(async (ids) => {
      const rows = {
        matches: new Map<string, string>(),
        teams: new Map(ids.teams.filter((id) => teams.has(id)).map((id) => [id, teams.get(id)!] as [string, string])),
        leagues: new Map([...(ids.teams.some((id) => teams.has(id)) ? [['cup', { private: true, members: new Set<string>() }] as const] : [])]),
      };
      if (holding) await new Promise<void>((resolve) => held.push(resolve));
      return rows;
    });
    const { registry, sessions, client } = setup(leagues);
    const fanout = new Fanout(registry, fakeMetrics('delivered', 'commitToSendSeconds'), rethrow);
    const gate = new StreamGate((e) => sessions.needsPlacement(e), (stream) => sessions.readPlacement(stream), (e) => fanout.deliver(e));
    // Subscribed before the team existed: granted as an unknown id.
    await sessions.subscribe(client, { action: 'subscribe', channels: ['team:new'], resume: new Map() });
    expect([...client.channels]).toEqual(['team:new']);
    // Another client's look-up of team:new runs now and finds nothing; its answer comes late.
    holding = true;
    const earlier = leagues.load(['team:new']);
    for (let i = 0; i < 5 && held.length === 0; i++) await tick();
    holding = false;
    // The team is created in the private cup, with an announcement on its stream.
    teams.set('new', 'cup');
    gate.push({ stream: 'team:new', seq: 1, type: 'announcement', match_id: null, data: { id: 'a1' }, timestamp: new Date().toISOString() } as unknown as OutboxEvent);
    held.shift()!();
    await earlier;
    for (let i = 0; i < 10 && gate.deliveredSeq('team:new') !== undefined; i++) await tick();
    expect(gate.deliveredSeq('team:new')).toBeUndefined();
    expect(client.log).toEqual([]);
    expect(client.sent.map((m) => (m.type === 'error' ? `${m.code} ${m.channel}` : m.type))).toEqual(['subscribed', 'FORBIDDEN_CHANNEL team:new']);
  });
});
