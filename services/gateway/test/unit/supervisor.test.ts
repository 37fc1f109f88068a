import type { OutboxEvent, OutboxRef } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import type { Broker, BrokerListener, BrokerMode } from '../../src/brokers/broker';
import { BrokerSupervisor } from '../../src/brokers/supervisor';
import { fakeMetrics, matchEvent } from './fakes';

class StubBroker implements Broker {
  listener: BrokerListener | undefined;
  starts = 0;
  closes = 0;
  live = false;
  constructor(readonly mode: BrokerMode) {}
  start(listener: BrokerListener): void {
    this.listener = listener;
    this.starts++;
  }
  healthy(): boolean {
    return this.live;
  }
  async close(): Promise<void> {
    this.closes++;
  }
}

const OPTIONS = { heartbeatTimeoutMs: 1000, redisProbeIntervalMs: 2000, catchUpMarginMs: 60_000 };

/** `catchUp` stands in for the sink's catch-up (default: done at once, nothing behind). */
function setup(withRedis = true, catchUp: () => Promise<number> = async () => 0) {
  const redis = withRedis ? new StubBroker('redis') : undefined;
  const postgres: StubBroker[] = [];
  const accepted: { item: OutboxEvent | OutboxRef; source: BrokerMode }[] = [];
  const catchUps: number[] = [];
  const sink = {
    accept: (item: OutboxEvent | OutboxRef, source: BrokerMode) => void accepted.push({ item, source }),
    catchUp: async (windowMs: number) => {
      catchUps.push(windowMs);
      return catchUp();
    },
  };
  const metrics = fakeMetrics('brokerMode', 'brokerSwitches', 'catchUpSeconds', 'invalidMessages');
  const supervisor = new BrokerSupervisor(
    {
      redis,
      postgres: () => {
        const broker = new StubBroker('postgres');
        postgres.push(broker);
        return broker;
      },
    },
    sink,
    OPTIONS,
    metrics,
    createLogger('test', 'silent'),
  );
  const switches = () => metrics.brokerSwitches.calls.map((args) => (args[0] as { to: string }).to);
  return { redis, postgres, accepted, catchUps, metrics, supervisor, switches };
}

describe('BrokerSupervisor', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs Redis mode, catches up when the path becomes ready, and passes every event to the sink', async () => {
    const { redis, postgres, accepted, catchUps, supervisor } = setup();
    supervisor.start();
    expect(redis!.starts).toBe(1);
    expect(postgres).toHaveLength(0); // normally the cluster holds only the listener's LISTEN
    redis!.live = true;
    redis!.listener!.ready('redis');
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(1);
    expect(supervisor.mode).toBe('redis');
    expect(supervisor.delivering()).toBe(true);
    redis!.listener!.event(matchEvent('m', 1), 'redis');
    expect(accepted.map((a) => a.source)).toEqual(['redis']);
    await supervisor.close();
  });

  it('falls back to its own Postgres LISTEN when Redis goes down, and catches up once it listens', async () => {
    const { redis, postgres, catchUps, switches, supervisor } = setup();
    supervisor.start();
    redis!.live = true;
    redis!.listener!.down('redis', new Error('no listener heartbeat for 1000 ms'));
    expect(supervisor.mode).toBe('postgres');
    expect(switches()).toEqual(['postgres']);
    expect(postgres).toHaveLength(1);
    expect(postgres[0]!.starts).toBe(1);
    postgres[0]!.live = true;
    postgres[0]!.listener!.ready('postgres');
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(1);
    // A second loss report does not start a second LISTEN connection.
    redis!.listener!.down('redis', new Error('again'));
    expect(postgres).toHaveLength(1);
    await supervisor.close();
  });

  it('falls back when no heartbeat arrives within twice the heartbeat timeout of start', async () => {
    const { postgres, supervisor } = setup();
    supervisor.start();
    await jest.advanceTimersByTimeAsync(OPTIONS.heartbeatTimeoutMs * 2 - 1);
    expect(supervisor.mode).toBe('redis');
    await jest.advanceTimersByTimeAsync(1);
    expect(supervisor.mode).toBe('postgres');
    expect(postgres).toHaveLength(1);
    await supervisor.close();
  });

  it('probes Redis in fallback and switches back when it is healthy, catching up and dropping the extra LISTEN', async () => {
    const { redis, postgres, catchUps, switches, supervisor } = setup();
    supervisor.start();
    redis!.listener!.down('redis', new Error('gone'));
    await jest.advanceTimersByTimeAsync(OPTIONS.redisProbeIntervalMs * 3);
    expect(supervisor.mode).toBe('postgres'); // still unhealthy: stays
    redis!.live = true;
    await jest.advanceTimersByTimeAsync(OPTIONS.redisProbeIntervalMs);
    expect(supervisor.mode).toBe('redis');
    expect(switches()).toEqual(['postgres', 'redis']);
    expect(catchUps.length).toBeGreaterThanOrEqual(1);
    // The window reaches back to when the path was lost, plus the margin.
    expect(catchUps.at(-1)!).toBeGreaterThanOrEqual(OPTIONS.catchUpMarginMs + OPTIONS.redisProbeIntervalMs * 4);
    expect(postgres[0]!.closes).toBe(1);
    // And again: a second outage builds a fresh LISTEN path.
    redis!.listener!.down('redis', new Error('gone again'));
    expect(postgres).toHaveLength(2);
    await supervisor.close();
  });

  it('runs one catch-up at a time: every request while one runs shares exactly one more after it', async () => {
    const running: (() => void)[] = [];
    const { redis, catchUps, supervisor } = setup(true, () => new Promise((resolve) => running.push(() => resolve(0))));
    supervisor.start();
    redis!.live = true;
    for (let i = 0; i < 100; i++) redis!.listener!.ready('redis');
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(1);
    running.shift()!();
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(2); // the first may have read the heads too early for the 99 others
    redis!.listener!.ready('redis');
    running.shift()!();
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(3);
    running.shift()!();
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(3); // nothing was asked for during the third
    await supervisor.close();
  });

  it('catches up once more when the Redis path asks during the switch back (publishes the listener dropped meanwhile)', async () => {
    const running: (() => void)[] = [];
    const { redis, postgres, catchUps, supervisor } = setup(true, () => new Promise((resolve) => running.push(() => resolve(0))));
    supervisor.start();
    redis!.listener!.down('redis', new Error('gone'));
    postgres[0]!.listener!.ready('postgres');
    await jest.advanceTimersByTimeAsync(0);
    running.shift()!();
    await jest.advanceTimersByTimeAsync(0);
    redis!.live = true;
    await jest.advanceTimersByTimeAsync(OPTIONS.redisProbeIntervalMs);
    expect(supervisor.mode).toBe('redis');
    const before = catchUps.length; // the switch's own catch-up is running
    // A heartbeat says the listener dropped publishes after that catch-up read the heads.
    redis!.listener!.ready('redis');
    running.shift()!();
    await jest.advanceTimersByTimeAsync(0);
    expect(catchUps).toHaveLength(before + 1);
    running.shift()!();
    await jest.advanceTimersByTimeAsync(0);
    expect(postgres[0]!.closes).toBe(1);
    await supervisor.close();
  });

  it('ignores reports from a path that is not the active one', async () => {
    const { redis, postgres, catchUps, supervisor } = setup();
    supervisor.start();
    redis!.listener!.down('postgres', new Error('not mine'));
    redis!.listener!.ready('postgres');
    await jest.advanceTimersByTimeAsync(0);
    expect(supervisor.mode).toBe('redis');
    expect(postgres).toHaveLength(0);
    expect(catchUps).toHaveLength(0);
    await supervisor.close();
  });

  it('counts invalid bus messages by source', async () => {
    const { redis, metrics, supervisor } = setup();
    supervisor.start();
    redis!.listener!.invalid('heartbeat', new Error('not JSON'));
    redis!.listener!.invalid('redis', new Error('seq is not an integer ≥ 1'));
    expect(metrics.invalidMessages.calls).toEqual([[{ source: 'heartbeat' }], [{ source: 'redis' }]]);
    await supervisor.close();
  });

  it('runs Postgres LISTEN alone without Redis', async () => {
    const { postgres, supervisor } = setup(false);
    supervisor.start();
    expect(supervisor.mode).toBe('postgres');
    expect(postgres).toHaveLength(1);
    await supervisor.close();
    expect(postgres[0]!.closes).toBe(1);
  });

  it('stops everything on close: brokers closed, no probe, no switch, no catch-up retry; close twice is safe', async () => {
    const { redis, postgres, catchUps, switches, supervisor } = setup();
    supervisor.start();
    redis!.listener!.down('redis', new Error('gone'));
    await supervisor.close();
    await supervisor.close();
    expect(redis!.closes).toBe(1);
    expect(postgres[0]!.closes).toBe(1);
    redis!.live = true;
    postgres[0]!.listener!.ready('postgres');
    await jest.advanceTimersByTimeAsync(OPTIONS.redisProbeIntervalMs * 5);
    expect(switches()).toEqual(['postgres']);
    expect(catchUps).toHaveLength(0);
  });
});
