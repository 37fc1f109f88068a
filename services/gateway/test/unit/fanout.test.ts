import { SubscriptionRegistry } from '../../src/delivery/registry';
import { Fanout } from '../../src/delivery/fanout';
import { FakeSubscriber, fakeMetrics, matchEvent } from './fakes';

function setup() {
  const registry = new SubscriptionRegistry();
  const metrics = fakeMetrics('delivered', 'commitToSendSeconds');
  const faults: Array<[string, unknown]> = [];
  const fanout = new Fanout(registry, metrics, (subscriber, error) => faults.push([subscriber.id, error]));
  const client = (id: string, ...channels: string[]) => {
    const subscriber = new FakeSubscriber(id);
    registry.add(subscriber);
    for (const channel of channels) registry.subscribe(subscriber, channel);
    return subscriber;
  };
  return { registry, metrics, fanout, client, faults };
}

describe('Fanout', () => {
  it('delivers an event once per client, on the most specific channel it subscribes to', () => {
    const { fanout, client } = setup();
    const wide = client('wide', 'all', 'live:all', 'league:l', 'team:h', 'match:m');
    const league = client('league', 'all', 'league:l');
    const fan = client('fan', 'team:a');
    fanout.deliver(matchEvent('m', 1));
    expect(wide.log).toEqual(['match:m match:m@1']);
    expect(league.log).toEqual(['league:l match:m@1']);
    expect(fan.log).toEqual(['team:a match:m@1']);
  });

  it('goes on to the other clients when one client\'s delivery throws, and reports that client', () => {
    const { fanout, client, faults, metrics } = setup();
    const before = client('before', 'all');
    const broken = client('broken', 'all');
    const after = client('after', 'all');
    const failure = new RangeError('Maximum call stack size exceeded');
    broken.deliver = () => {
      throw failure;
    };
    fanout.deliver(matchEvent('m', 1));
    expect(before.log).toEqual(['all match:m@1']);
    expect(after.log).toEqual(['all match:m@1']);
    expect(faults).toEqual([['broken', failure]]);
    expect(metrics.delivered.total).toBe(2);
  });

  it('builds the frames of a channel once and hands the same object to every client on it', () => {
    const { fanout, client, metrics } = setup();
    const clients = [client('1', 'all'), client('2', 'all'), client('3', 'all')];
    fanout.deliver(matchEvent('m', 1));
    const frames = clients.map((c) => c.received[0]);
    expect(new Set(frames).size).toBe(1);
    expect(metrics.delivered.total).toBe(3);
  });

  it('skips clients on channels the event is not routed to (live:all for a finished match)', () => {
    const { fanout, client } = setup();
    const live = client('live', 'live:all');
    const other = client('other', 'match:x', 'team:z');
    fanout.deliver(matchEvent('m', 1, { status: 'finished' }));
    expect(live.log).toEqual([]);
    expect(other.log).toEqual([]);
  });

  it('buffers events of a stream being replayed for a resuming client, and only that stream', () => {
    const { fanout, client } = setup();
    const resuming = client('r', 'all');
    resuming.resuming = new Map([['match:m', []]]);
    fanout.deliver(matchEvent('m', 7));
    fanout.deliver(matchEvent('n', 1));
    expect(resuming.log).toEqual(['all match:n@1']);
    expect(resuming.resuming!.get('match:m')!.map((f) => f.event.seq)).toEqual([7]);
  });

  it('skips what a client that resumed ahead of this gateway already has, then forgets the mark', () => {
    const { fanout, client } = setup();
    const ahead = client('ahead', 'match:m');
    ahead.seenUpTo = new Map([['match:m', 2]]);
    for (const seq of [1, 2, 3]) fanout.deliver(matchEvent('m', seq));
    expect(ahead.log).toEqual(['match:m match:m@3']);
    expect(ahead.seenUpTo).toBeUndefined();
  });

  it('never re-indexes a client that was removed (a subscribe finishing after close)', () => {
    const { registry, fanout, client } = setup();
    const gone = client('gone');
    registry.remove(gone);
    registry.subscribe(gone, 'all');
    fanout.deliver(matchEvent('m', 1));
    expect(gone.log).toEqual([]);
    expect(registry.subscribers('all')).toBeUndefined();
  });

  describe('topic channels', () => {
    const schedule = (seq: number) => ({ ...matchEvent('m', seq, { status: 'postponed' }), type: 'schedule_update' as const });

    it('delivers an event to the topic channels of its topic only', () => {
      const { fanout, client } = setup();
      const scheduleFan = client('schedule', 'league:l/schedule');
      const liveFan = client('live', 'match:m/live');
      const results = client('results', 'team:h/results');
      fanout.deliver(matchEvent('m', 1));
      fanout.deliver(schedule(2));
      fanout.deliver(matchEvent('m', 3, { status: 'finished' }));
      expect(scheduleFan.log).toEqual(['league:l/schedule match:m@2']);
      expect(liveFan.log).toEqual(['match:m/live match:m@1', 'match:m/live match:m@3']);
      expect(results.log).toEqual(['team:h/results match:m@3']);
    });

    it('gives a client on a channel and its topics one copy, on the most specific channel', () => {
      const { fanout, client, metrics } = setup();
      const both = client('both', 'league:l', 'league:l/live', 'league:l/results', 'all', 'all/live');
      fanout.deliver(matchEvent('m', 1, { status: 'finished' }));
      fanout.deliver(schedule(2));
      expect(both.log).toEqual(['league:l/live match:m@1', 'league:l match:m@2']);
      expect(metrics.delivered.total).toBe(2);
    });

    it('builds frames once per channel and topic, shared by every client on that name', () => {
      const { fanout, client } = setup();
      const onTopic = [client('t1', 'league:l/live'), client('t2', 'league:l/live'), client('t3', 'league:l/live')];
      const onBase = [client('b1', 'league:l'), client('b2', 'league:l')];
      fanout.deliver(matchEvent('m', 1));
      const topicFrames = new Set(onTopic.map((c) => c.received[0]));
      const baseFrames = new Set(onBase.map((c) => c.received[0]));
      expect(topicFrames.size).toBe(1);
      expect(baseFrames.size).toBe(1);
      const [topic] = topicFrames;
      const [base] = baseFrames;
      expect(topic).not.toBe(base);
      expect([topic!.channel, base!.channel]).toEqual(['league:l/live', 'league:l']);
      expect(JSON.parse(topic!.sseFrame().toString().slice('data: '.length))).toMatchObject({ channel: 'league:l/live', stream: 'match:m', seq: 1 });
    });

    it('knows which base channels have topic subscribers, so fan-out names only those topics', () => {
      const { registry, fanout, client } = setup();
      const a = client('a', 'league:l/live', 'league:l/results');
      const b = client('b', 'league:l/live', 'team:h');
      expect(['league:l', 'team:h', 'match:m'].map(registry.hasTopicSubscribers)).toEqual([true, false, false]);
      registry.unsubscribe(a, 'league:l/live');
      registry.remove(b);
      expect(registry.hasTopicSubscribers('league:l')).toBe(true);
      fanout.deliver(matchEvent('m', 1, { status: 'finished' }));
      expect(a.log).toEqual(['league:l/results match:m@1']);
      registry.unsubscribe(a, 'league:l/results');
      registry.unsubscribe(a, 'league:l/results'); // twice: counted once
      expect(registry.hasTopicSubscribers('league:l')).toBe(false);
      registry.subscribe(a, 'league:l/live');
      expect(registry.hasTopicSubscribers('league:l')).toBe(true);
      registry.remove(a);
      expect(registry.hasTopicSubscribers('league:l')).toBe(false);
    });

    it('counts topic channels among the registry channels and forgets them on unsubscribe', () => {
      const { registry, fanout, client } = setup();
      const fan = client('fan', 'match:m/live', 'match:m/schedule');
      expect([...fan.channels]).toEqual(['match:m/live', 'match:m/schedule']);
      registry.unsubscribe(fan, 'match:m/live');
      fanout.deliver(matchEvent('m', 1));
      expect(fan.log).toEqual([]);
      expect(registry.subscribers('match:m/live')).toBeUndefined();
    });
  });
});
