import type { ChangedStream } from '@matchcast/db';
import type { OutboxEvent } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import { TokenVerifier, type Identity } from '@matchcast/auth';
import { Fanout } from '../../src/delivery/fanout';
import { SubscriptionRegistry } from '../../src/delivery/registry';
import { Sequencer } from '../../src/delivery/sequencer';
import type { Caller } from '../../src/sessions/replay';
import { Sessions, type Client, type History } from '../../src/sessions/session';
import { FakeOutbox, FakeSubscriber, fakeMetrics, userEvent, rethrow } from './fakes';

const logger = createLogger('test', 'silent');

class UserClient extends FakeSubscriber implements Client {
  identity: Identity = { userId: 'u1', roles: new Set(), expiresAtMs: undefined };
  readonly addressGroup = '192.0.2.1';
}

/** Replays from the fake outbox; `since` finds what the test says. */
class OutboxHistory implements History {
  changed: ChangedStream[] = [];
  constructor(private readonly outbox: FakeOutbox) {}
  async replay(stream: string, afterSeq: number, head: number, caller: Caller, deliver: (e: OutboxEvent) => boolean): Promise<void> {
    for (const event of await this.outbox.readStream(stream, afterSeq, head)) {
      if (!caller.alive() || !deliver(event)) return;
    }
  }
  async changedSince(): Promise<ChangedStream[]> {
    return this.changed;
  }
  async committedHeads(streams: readonly string[]): Promise<Map<string, number>> {
    return new Map(await Promise.all(streams.map(async (stream) => [stream, await this.outbox.streamHead(stream)] as const)));
  }
}

/** The gateway's delivery path as wired in gateway.ts, over an in-memory outbox whose head reads the test answers. */
async function setup() {
  const outbox = new FakeOutbox();
  const headReads = outbox.holdHeadReads();
  const registry = new SubscriptionRegistry({ track: (c) => sequencer.track(c), untrack: (c) => sequencer.untrack(c) });
  const fanout = new Fanout(registry, fakeMetrics('delivered', 'commitToSendSeconds'), rethrow);
  const sequencer = new Sequencer(outbox, (e) => fanout.deliver(e), fakeMetrics('received', 'duplicates', 'gapsFilled', 'skipped', 'undeliverable', 'claimsBeyondHead', 'untracked'), logger);
  await sequencer.init();
  const history = new OutboxHistory(outbox);
  const sessions = new Sessions(
    registry,
    sequencer,
    history,
    new TokenVerifier({ jwtSecret: undefined, keys: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined, clockToleranceMs: 0, rolesClaim: 'roles', requireToken: false }),
    { maxChannels: 10, maxReplayEvents: 1000, historyRetentionMs: 3_600_000 },
    fakeMetrics('clientErrors', 'replays'),
    logger,
  );
  /** A commit of user u1's next event and its notification arriving over the bus. */
  const notify = (seq: number) => {
    outbox.commit(userEvent('u1', seq));
    sequencer.accept(userEvent('u1', seq), 'redis');
  };
  const client = (id: string) => {
    const c = new UserClient(id);
    sessions.open(c);
    return c;
  };
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return { outbox, headReads, registry, sequencer, history, sessions, notify, client, tick };
}

const seqs = (c: FakeSubscriber) => c.received.map((f) => f.event.seq);

describe('user streams: subscribe and resume over a gateway that learns positions on demand', () => {
  it('a subscribe answers once the head is known and delivers every event committed after it, including those notified during the read', async () => {
    const { outbox, headReads, sequencer, sessions, notify, client, tick } = await setup();
    outbox.commit(userEvent('u1', 1), userEvent('u1', 2));
    const c = client('c');
    const done = sessions.subscribe(c, { action: 'subscribe', channels: ['user:u1'], resume: new Map() });
    await tick();
    expect(c.sent).toEqual([]); // not subscribed until the position is known
    notify(3); // committed before the head read's snapshot: before the subscribe
    headReads[0]!.answer();
    notify(4); // committed after the snapshot, notified before the answer arrives
    await done;
    expect(c.sent[0]).toMatchObject({ type: 'subscribed' });
    notify(5);
    await sequencer.idle();
    expect(seqs(c)).toEqual([4, 5]);
  });

  it('resume gets exactly the missed events, once and in order, across events committed during the subscribe', async () => {
    const { outbox, headReads, sequencer, sessions, notify, client, tick } = await setup();
    for (let seq = 1; seq <= 5; seq++) outbox.commit(userEvent('u1', seq));
    const c = client('c');
    const done = sessions.subscribe(c, { action: 'subscribe', channels: ['user:u1'], resume: new Map([['user:u1', 2]]) });
    await tick();
    notify(6);
    headReads[0]!.answer(); // head 6: 6 comes from the replay, not the fill
    notify(7);
    await done;
    notify(8);
    await sequencer.idle();
    expect(seqs(c)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(c.sent.map((m) => m.type)).toEqual(['subscribed', 'resumed']);
  });

  it('resume against a stream already followed here needs no head read', async () => {
    const { outbox, headReads, sequencer, sessions, notify, client } = await setup();
    outbox.commit(userEvent('u1', 1));
    const first = client('a');
    const subscribing = sessions.subscribe(first, { action: 'subscribe', channels: ['user:u1'], resume: new Map() });
    await new Promise((resolve) => setImmediate(resolve));
    headReads[0]!.answer();
    await subscribing;
    notify(2);
    notify(3);
    const second = client('b');
    await sessions.subscribe(second, { action: 'subscribe', channels: ['user:u1'], resume: new Map([['user:u1', 1]]) });
    notify(4);
    await sequencer.idle();
    expect(headReads).toHaveLength(1);
    expect(seqs(first)).toEqual([2, 3, 4]);
    expect(seqs(second)).toEqual([2, 3, 4]);
    expect(sequencer.trackedStreams().user).toBe(1);
  });

  it('since finds the user stream and replays it from the first event after since', async () => {
    const { outbox, headReads, sequencer, history, sessions, notify, client, tick } = await setup();
    outbox.commit(userEvent('u1', 1), userEvent('u1', 2), userEvent('u1', 3));
    history.changed = [{ stream: 'user:u1', afterSeq: 1, routing: { stream: 'user:u1', match_id: null, data: {} } }];
    const c = client('c');
    const done = sessions.subscribe(c, { action: 'subscribe', channels: ['user:u1'], resume: new Map(), since: new Date().toISOString() });
    await tick();
    headReads[0]!.answer();
    notify(4);
    await done;
    await sequencer.idle();
    expect(seqs(c)).toEqual([2, 3, 4]);
  });

  it('counts local subscribers: the stream is forgotten when the last one unsubscribes or leaves, even mid-read', async () => {
    const { headReads, registry, sequencer, sessions, client, tick } = await setup();
    const a = client('a');
    const b = client('b');
    const subscribing = [a, b].map((c) => sessions.subscribe(c, { action: 'subscribe', channels: ['user:u1', 'all'], resume: new Map() }));
    await tick();
    expect(headReads).toHaveLength(1); // one read for both
    headReads[0]!.answer();
    await Promise.all(subscribing);
    await sessions.handle(a, { action: 'unsubscribe', channels: ['user:u1'] });
    expect(sequencer.trackedStreams().user).toBe(1);
    sessions.closed(b);
    expect(sequencer.trackedStreams().user).toBe(0);
    expect(registry.subscribers('user:u1')).toBeUndefined();

    const c = client('c');
    const pending = sessions.subscribe(c, { action: 'subscribe', channels: ['user:u1'], resume: new Map() });
    await tick();
    sessions.closed(c); // leaves while its head read is out
    expect(sequencer.trackedStreams().user).toBe(0);
    headReads[1]!.answer();
    await pending;
    expect(sequencer.trackedStreams().user).toBe(0);
    expect(sequencer.lastSeq('user:u1')).toBe(0);
  });
});
