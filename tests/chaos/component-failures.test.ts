/**
 * Chaos, the other parts: the listener leader dies while a standby runs, Postgres restarts,
 * a gateway restarts while its clients reconnect with resume. Same workload and the same
 * zero-loss check as the Redis drills.
 */
import { LocalCluster } from '../harness/scenarios/local-cluster';
import { runLocalScenario } from '../harness/scenarios/run-local';

describe('chaos: listener, Postgres and gateway failures', () => {
  const cluster = new LocalCluster({ name: 'chaos-parts' });

  beforeAll(() => cluster.start(), 60_000);
  afterAll(() => cluster.destroy(), 30_000);

  it('listener leader SIGKILLed: the standby takes over, nothing lost', async () => {
    const before = await cluster.leader();
    const report = await runLocalScenario(cluster, 'listener-failover');
    const after = await cluster.leader();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(report.leaderTakeoverMs).not.toBeNull();
  }, 90_000);

  it('Postgres restarted: delivery resumes with nothing lost', async () => {
    await runLocalScenario(cluster, 'postgres-restart');
  }, 120_000);

  it('a gateway restarted (drain, start on the same port): its clients resume with nothing lost', async () => {
    const report = await runLocalScenario(cluster, 'gateway-restart');
    const restartedClients = report.clients.filter((client) => client.url === cluster.gateways[0]!.wsUrl);
    expect(restartedClients.length).toBeGreaterThan(0);
    for (const client of restartedClients) expect(client.connects).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
