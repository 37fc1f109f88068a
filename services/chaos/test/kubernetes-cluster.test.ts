/**
 * KubernetesCluster's runbook logic against a small in-memory stand-in for the API server
 * (no cluster runs here): which pods it deletes and how, what it scales, what it waits for.
 * The listener leader is found through a real Postgres advisory lock, as in a cluster.
 */
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import type { KubeApi, PodInfo, WorkloadRef, WorkloadStatus } from '../src/kube-api';
import { KubernetesCluster, type KubernetesClusterOptions } from '../src/kubernetes-cluster';

interface FakePod extends PodInfo {
  workload: string;
}

/** Pods owned by workloads; a deleted pod is replaced (not ready, then ready) like a ReplicaSet does. */
class FakeKube implements KubeApi {
  readonly calls: string[] = [];
  readonly pods: FakePod[] = [];
  readonly replicas = new Map<string, number>();
  readonly readyz = new Map<string, string>();
  private serial = 0;

  constructor(private readonly selectors: Record<string, string>) {}

  add(workload: string, replicas: number): void {
    this.replicas.set(workload, replicas);
    for (let i = 0; i < replicas; i++) this.spawn(workload, true);
  }

  private spawn(workload: string, ready: boolean): FakePod {
    const pod: FakePod = { name: `${workload}-${String(++this.serial).padStart(3, '0')}`, ip: undefined, ready, terminating: false, workload };
    this.pods.push(pod);
    if (!ready) setTimeout(() => (pod.ready = true), 40);
    return pod;
  }

  private reconcile(workload: string): void {
    const live = this.pods.filter((p) => p.workload === workload && !p.terminating);
    const want = this.replicas.get(workload) ?? 0;
    for (let i = live.length; i < want; i++) this.spawn(workload, false);
    for (const pod of live.slice(want)) this.terminate(pod);
  }

  private terminate(pod: FakePod): void {
    pod.terminating = true;
    pod.ready = false;
    setTimeout(() => this.pods.splice(this.pods.indexOf(pod), 1), 30);
  }

  async listPods(_namespace: string, selector: string): Promise<PodInfo[]> {
    return this.pods.filter((pod) => this.selectors[pod.workload] === selector).map((pod) => ({ ...pod }));
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void> {
    this.calls.push(`delete ${namespace}/${name} grace=${gracePeriodSeconds ?? 'default'}`);
    const pod = this.pods.find((p) => p.name === name && !p.terminating);
    if (!pod) throw new Error(`pod ${name} not found`);
    this.terminate(pod);
    this.reconcile(pod.workload);
  }

  async scale(namespace: string, workload: WorkloadRef, replicas: number): Promise<void> {
    this.calls.push(`scale ${namespace}/${workload.kind}/${workload.name} ${replicas}`);
    this.replicas.set(workload.name, replicas);
    this.reconcile(workload.name);
  }

  async workloadStatus(_namespace: string, workload: WorkloadRef): Promise<WorkloadStatus> {
    const ready = this.pods.filter((p) => p.workload === workload.name && p.ready && !p.terminating).length;
    return { desired: this.replicas.get(workload.name) ?? 0, ready };
  }

  async podLog(_namespace: string, pod: string, container: string): Promise<string> {
    return [
      `{"level":"info","time":"2030-01-01T00:00:00.000Z","msg":"${container} too old"}`,
      `{"level":"info","time":"2030-01-01T00:00:05.000Z","msg":"${container} on ${pod}"}`,
    ].join('\n');
  }

  async podGet(namespace: string, pod: string, port: number, path: string): Promise<{ status: number; body: string }> {
    this.calls.push(`get ${namespace}/${pod}:${port}${path}`);
    return { status: 200, body: this.readyz.get(pod) ?? '{"status":"ok","mode":"redis"}' };
  }
}

describe('KubernetesCluster (fake API server, real Postgres)', () => {
  const postgres = new PostgresServer();
  let api: FakeKube;
  let cluster: KubernetesCluster;
  let options: KubernetesClusterOptions;
  const holders: pg.Client[] = [];

  beforeAll(() => postgres.start(), 60_000);
  afterAll(async () => {
    await Promise.all(holders.map((c) => c.end()));
    await postgres.destroy();
  });

  beforeEach(() => {
    api = new FakeKube({ 'mc-gateway': 'component=gateway', 'mc-redis': 'component=redis', 'mc-postgres': 'component=postgres' });
    api.add('mc-gateway', 2);
    api.add('mc-redis', 1);
    api.add('mc-postgres', 1);
    options = {
      namespace: 'ns',
      databaseUrl: postgres.url,
      redisUrl: undefined,
      clientUrl: 'ws://mc-gateway.ns.svc:8080/ws',
      gateway: { selector: 'component=gateway', workload: { kind: 'Deployment', name: 'mc-gateway' }, container: 'gateway', port: 8080, opsPort: 8083 },
      listener: { selector: 'component=gateway', workload: { kind: 'Deployment', name: 'mc-gateway' }, container: 'notify-listener' },
      redis: { selector: 'component=redis', workload: { kind: 'Deployment', name: 'mc-redis' } },
      postgres: { selector: 'component=postgres', workload: { kind: 'StatefulSet', name: 'mc-postgres' } },
      listenerLockKey: 7_246_102,
      readyTimeoutMs: 5000,
      pollMs: 10,
    };
    cluster = new KubernetesCluster(api, options);
  });
  afterEach(() => cluster.close());

  it('kills the Redis pod with no grace period and waits for its replacement to be ready', async () => {
    await cluster.killRedis();
    expect(api.calls).toEqual(['delete ns/mc-redis-003 grace=0']);
    await cluster.startRedis();
    const redis = await api.listPods('ns', 'component=redis');
    expect(redis.map((p) => [p.name, p.ready, p.terminating])).toEqual([['mc-redis-005', true, false]]);
    expect(api.calls).toEqual(['delete ns/mc-redis-003 grace=0']); // replaced by the Deployment, not scaled
  });

  it('takes Redis away by scaling to 0, and back by scaling to 1', async () => {
    await cluster.stopRedis();
    await cluster.startRedis();
    expect(api.calls).toEqual(['scale ns/Deployment/mc-redis 0', 'scale ns/Deployment/mc-redis 1']);
    expect((await api.workloadStatus('ns', options.redis.workload)).ready).toBe(1);
  });

  it("deletes the listener leader's pod, found through the lock holder's application_name", async () => {
    const holder = new pg.Client({ connectionString: postgres.url, application_name: 'matchcast-listener mc-gateway-002-1' });
    await holder.connect();
    holders.push(holder);
    await holder.query('SELECT pg_advisory_lock(7246102)');
    expect(await cluster.killListenerLeader()).toBe('mc-gateway-002-1');
    expect(api.calls).toEqual(['delete ns/mc-gateway-002 grace=0']);
    await cluster.restoreListeners();
    const gateways = await api.listPods('ns', 'component=gateway');
    expect(gateways.filter((p) => p.ready && !p.terminating).map((p) => p.name)).toEqual(['mc-gateway-001', 'mc-gateway-005']);
  });

  it('standalone listeners (their own Deployment): stops the leader\'s pod with its grace period (it hands over), not a gateway', async () => {
    const kube = new FakeKube({ 'mc-gateway': 'component=gateway', 'mc-listener': 'component=notify-listener' });
    kube.add('mc-gateway', 2);
    kube.add('mc-listener', 2);
    const standalone = new KubernetesCluster(kube, {
      ...options,
      listener: { selector: 'component=notify-listener', workload: { kind: 'Deployment', name: 'mc-listener' }, container: 'notify-listener' },
    });
    await Promise.all(holders.splice(0).map((c) => c.end())); // an earlier test's leader lets go
    try {
      const holder = new pg.Client({ connectionString: postgres.url, application_name: 'matchcast-listener mc-listener-004-1' });
      await holder.connect();
      holders.push(holder);
      await holder.query('SELECT pg_advisory_lock(7246102)');
      expect(await standalone.stopListenerLeader()).toBe('mc-listener-004-1');
      expect(kube.calls).toEqual(['delete ns/mc-listener-004 grace=default']);
      await standalone.restoreListeners();
      expect((await kube.listPods('ns', 'component=notify-listener')).filter((p) => p.ready && !p.terminating)).toHaveLength(2);
      expect((await kube.listPods('ns', 'component=gateway')).map((p) => p.name)).toEqual(['mc-gateway-001', 'mc-gateway-002']);
    } finally {
      await standalone.close();
    }
  });

  it('stops a gateway with its normal grace period (it drains) and waits for the new pod', async () => {
    await cluster.stopGateway(1);
    expect(api.calls).toEqual(['delete ns/mc-gateway-002 grace=default']);
    expect((await api.listPods('ns', 'component=gateway')).some((p) => p.name === 'mc-gateway-002')).toBe(false);
    await cluster.startGateway();
    expect((await api.workloadStatus('ns', options.gateway.workload)).ready).toBe(2);
  });

  it('restarts the in-cluster Postgres and refuses an external one', async () => {
    await cluster.restartPostgres();
    expect(api.calls).toEqual(['delete ns/mc-postgres-004 grace=default']);
    const external = new KubernetesCluster(api, { ...options, postgres: undefined });
    await expect(external.restartPostgres()).rejects.toThrow(/external/);
    await external.close();
    await expect(cluster.freezeRedis(1000)).rejects.toThrow(/REDIS_URL/);
  });

  it("reads each gateway pod's mode through the API server's proxy, and logs per container", async () => {
    api.readyz.set('mc-gateway-002', '{"status":"ok","mode":"postgres"}');
    expect(await cluster.gatewayStates()).toEqual([
      { name: 'mc-gateway-001', mode: 'redis' },
      { name: 'mc-gateway-002', mode: 'postgres' },
    ]);
    expect(api.calls).toEqual(['get ns/mc-gateway-001:8083/readyz', 'get ns/mc-gateway-002:8083/readyz']);
    const logs = await cluster.logs('notify-listener', Date.parse('2030-01-01T00:00:01.000Z'));
    expect(logs.map((r) => `${r.source}: ${r.msg}`)).toEqual([
      'mc-gateway-001: notify-listener on mc-gateway-001',
      'mc-gateway-002: notify-listener on mc-gateway-002',
    ]);
  });
});
