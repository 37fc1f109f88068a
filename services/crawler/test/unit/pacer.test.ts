import { Pacer, Simulator, SimulatorSource } from '../../src';

describe('Pacer', () => {
  it('waits until each offset from the first call, measured from one base (no drift)', async () => {
    let now = 1000;
    const pacer = new Pacer(1, 1000, () => now);
    await pacer.waitUntil(0);
    now = 1000 + 250; // the consumer took a while; the next offset is due at 1000 + 200: no wait
    const started = Date.now();
    await pacer.waitUntil(200);
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('re-bases instead of bursting when more than maxLagMs behind', async () => {
    let now = 0;
    const pacer = new Pacer(1, 1000, () => now);
    await pacer.waitUntil(0);
    now = 5000; // an outage: offset 100 is 4.9 s late
    await pacer.waitUntil(100);
    // The base moved by 4.9 s, so offset 300 is due at 5200, 200 ms from now: it waits.
    const started = Date.now();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 400);
    const wait = pacer.waitUntil(300, abort.signal);
    await wait;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('never waits at speed 0', async () => {
    const pacer = new Pacer(0);
    const started = Date.now();
    await pacer.waitUntil(0);
    await pacer.waitUntil(60_000);
    expect(Date.now() - started).toBeLessThan(50);
  });
});

describe('SimulatorSource', () => {
  it('releases operations at eventsPerSecond on the wall clock', async () => {
    const source = new SimulatorSource(
      new Simulator({ seed: 1, eventsPerSecond: 100, leagues: 1, teamsPerLeague: 2, concurrentMatches: 1, matchMinuteMs: 10, startedAt: 0 }),
    );
    const signal = new AbortController().signal;
    // The first kickoff comes 5 match minutes (50 ms) after the fixture; from then on one op per 10 ms.
    const started = Date.now();
    const ops = [];
    for (let i = 0; i < 60; i++) ops.push(await source.next(signal));
    const elapsed = Date.now() - started;
    const virtual = ops[59]?.at_ms ?? 0;
    expect(virtual).toBeGreaterThan(500);
    expect(elapsed).toBeGreaterThanOrEqual(virtual - 20);
    expect(elapsed).toBeLessThan(virtual + 400);
  });

  it('returns undefined at once when aborted', async () => {
    const source = new SimulatorSource(
      new Simulator({ seed: 1, eventsPerSecond: 0.1, leagues: 1, teamsPerLeague: 2, concurrentMatches: 1, matchMinuteMs: 1000, startedAt: 0 }),
    );
    const abort = new AbortController();
    await source.next(abort.signal); // the first op is due at once
    setTimeout(() => abort.abort(), 50);
    const started = Date.now();
    expect(await source.next(abort.signal)).toBeUndefined(); // the next is 10 s away
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
