/**
 * The delivery canary's probe loop with a scripted write and bus: a probe succeeds only when
 * its own token comes back on its own stream; otherwise it times out, and a failing write is
 * write_failed. Probes pause while the gateway is not delivering.
 */
import type { OutboxEvent, OutboxRef } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import { DeliveryCanary, type CanaryFailure } from '../../src/canary/canary';
import { canarySink } from '../../src/canary/sink';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Polls until `done` (a loaded machine runs timers late: no fixed sleeps for what must happen). */
async function until(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await wait(5);
  }
}

function canaryEvent(stream: string, token: unknown, seq = 1): OutboxEvent {
  return { id: String(seq), stream, seq, type: 'canary', match_id: null, data: { token }, timestamp: new Date().toISOString() };
}

function setup(options: { echo?: (stream: string, token: string) => OutboxEvent | OutboxRef | undefined; failWrite?: boolean } = {}) {
  const latencies: number[] = [];
  const failures: CanaryFailure[] = [];
  let lastSuccess = 0;
  let delivering = true;
  const writes: string[] = [];
  let canary!: DeliveryCanary;
  canary = new DeliveryCanary(
    { gatewayId: 'gw-1', intervalMs: 20, timeoutMs: 100 },
    async (gatewayId, token) => {
      writes.push(token);
      if (options.failWrite) throw new Error('database unavailable');
      const echoed = (options.echo ?? ((stream, t) => canaryEvent(stream, t)))(`canary:${gatewayId}`, token);
      if (echoed) setTimeout(() => canary.received(echoed), 5);
    },
    () => delivering,
    {
      latency: { observe: (seconds) => latencies.push(seconds) },
      lastSuccess: { set: (value) => (lastSuccess = value) },
      failures: { inc: ({ reason }) => failures.push(reason) },
    },
    createLogger('test', 'silent'),
  );
  return {
    canary,
    latencies,
    failures,
    writes,
    lastSuccess: () => lastSuccess,
    setDelivering: (value: boolean) => (delivering = value),
  };
}

describe('DeliveryCanary', () => {
  it('times each probe from its write to its own event coming back', async () => {
    const t = setup();
    t.canary.start();
    await until(() => t.latencies.length >= 3);
    t.canary.close();
    for (const seconds of t.latencies) expect(seconds).toBeGreaterThan(0.003);
    expect(t.failures).toEqual([]);
    expect(t.lastSuccess()).toBeGreaterThan(Date.now() / 1000 - 1);
    expect(new Set(t.writes).size).toBe(t.writes.length); // a fresh token per probe
  });

  it.each([
    ['another gateway’s stream', (_stream: string, token: string) => canaryEvent('canary:gw-2', token)],
    ['a guessed token', (stream: string) => canaryEvent(stream, 'guessed')],
    ['a token that is not a string', (stream: string) => canaryEvent(stream, { $ne: null })],
    ['a reference', (stream: string) => ({ ref: true as const, id: '1', stream, seq: 1 })],
    ['nothing at all', () => undefined],
  ])('counts a timeout when only %s comes back', async (_what, echo) => {
    const t = setup({ echo });
    t.canary.start();
    await until(() => t.failures.length >= 2);
    t.canary.close();
    expect(t.latencies).toEqual([]);
    expect(t.lastSuccess()).toBe(0);
    expect(t.failures.length).toBeGreaterThanOrEqual(1);
    expect(new Set(t.failures)).toEqual(new Set(['timeout']));
  });

  it('counts write_failed when the commit fails, and keeps probing', async () => {
    const t = setup({ failWrite: true });
    t.canary.start();
    await until(() => t.failures.length >= 2);
    t.canary.close();
    expect(new Set(t.failures)).toEqual(new Set(['write_failed']));
  });

  it('pauses while the gateway has no delivering path, and resumes after', async () => {
    const t = setup();
    t.setDelivering(false);
    t.canary.start();
    await wait(100);
    expect(t.writes).toEqual([]);
    t.setDelivering(true);
    await until(() => t.latencies.length >= 1);
    t.canary.close();
    expect(t.failures).toEqual([]);
  });
});

describe('canarySink', () => {
  it('hands canary streams to the canary only, everything else to the sequencer', async () => {
    const sequenced: string[] = [];
    const canaried: string[] = [];
    const sink = canarySink(
      { accept: (item) => void sequenced.push(item.stream), catchUp: async () => 7 },
      { received: (item) => void canaried.push(item.stream) },
    );
    sink.accept(canaryEvent('canary:gw-1', 't'), 'redis');
    sink.accept({ ref: true, id: '2', stream: 'canary:gw-9', seq: 99 }, 'postgres');
    sink.accept({ ...canaryEvent('match:m1', 't'), match_id: 'm1' }, 'redis');
    expect(canaried).toEqual(['canary:gw-1', 'canary:gw-9']);
    expect(sequenced).toEqual(['match:m1']);
    expect(await sink.catchUp(1000)).toBe(7);
    // With the canary off, canary events go nowhere.
    const off = canarySink({ accept: (item) => void sequenced.push(item.stream), catchUp: async () => 0 }, undefined);
    off.accept(canaryEvent('canary:gw-1', 't'), 'redis');
    expect(sequenced).toEqual(['match:m1']);
  });
});
