/**
 * Chaos, Redis side (the runbook's by-hand Tests 1–3, docs/operations.md), against real
 * processes: two listeners, two gateways, the crawler writing ~80 tx/s, six clients on many
 * streams. Redis crashes, freezes, and goes away for 30 s; every client must still get every
 * event exactly once and in order, the gateways must fall back to their own LISTEN and switch
 * back by themselves.
 */
import { LocalCluster } from '../harness/scenarios/local-cluster';
import { runLocalScenario } from '../harness/scenarios/run-local';

describe('chaos: Redis failures', () => {
  const cluster = new LocalCluster({ name: 'chaos-redis' });

  beforeAll(() => cluster.start(), 60_000);
  afterAll(() => cluster.destroy(), 30_000);

  it('redis-server SIGKILLed and restarted 3 s later: nothing lost, fallback and switch back', async () => {
    const report = await runLocalScenario(cluster, 'redis-kill');
    expect(report.fallbackMs).toBeLessThanOrEqual(1000);
  }, 90_000);

  it('Redis frozen with SIGSTOP, then SIGCONT: the missed heartbeat triggers the fallback', async () => {
    const report = await runLocalScenario(cluster, 'redis-freeze');
    // Heartbeat timeout is 1 s; nothing else tells a gateway that a frozen Redis is gone.
    expect(report.fallbackMs).toBeGreaterThanOrEqual(500);
  }, 90_000);

  it('Redis down for 30 s: clients keep getting everything through Postgres, then Redis again', async () => {
    const report = await runLocalScenario(cluster, 'redis-outage');
    expect(report.fallbackMs).toBeLessThanOrEqual(1000);
  }, 120_000);
});
