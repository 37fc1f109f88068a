/**
 * The runbook runner's Kubernetes driver end to end, as the chart's chaos Job runs it: the built
 * CLI (services/chaos/dist/main.js, the image's entrypoint) with the real @kubernetes/client-node,
 * against a stand-in API server (no cluster runs here) whose pods are real processes — two
 * gateways, two listeners, the crawler, Postgres, and a redis-server that deleting its pod
 * really kills and scaling its Deployment really stops and starts (tests/harness/scenarios/kube-stand-in.ts).
 * What this does not cover, and only the hosted workflow's kind job does: a real API server,
 * RBAC, Services, pod networking, NetworkPolicies, the image itself.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeStandIn } from '../harness/scenarios/kube-stand-in';
import { LocalCluster } from '../harness/scenarios/local-cluster';

const RUNNER = join(__dirname, '..', '..', 'services', 'chaos', 'dist', 'main.js');
const OPS_PORT = 8083;

interface Summary {
  chaos: string;
  ok: boolean;
  fallback_ms: number | null;
  switch_back_ms: number | null;
  events: number;
  deliveries: number;
  lost: number;
  duplicated: number;
  out_of_order: number;
  failures?: string[];
}

describe('chaos: the runner\'s Kubernetes driver against a stand-in API server', () => {
  const cluster = new LocalCluster({ name: 'chaos-kube' });
  let api: KubeStandIn;
  let kubeconfig: string;

  beforeAll(async () => {
    await cluster.start();
    api = await new KubeStandIn(cluster, { namespace: 'matchcast', release: 'matchcast', token: 'chaos-sa-token', opsPort: OPS_PORT, restartDelayMs: 1500 }).start();
    kubeconfig = api.writeKubeconfig(mkdtempSync(join(tmpdir(), 'matchcast-kube-')));
  }, 90_000);

  afterAll(async () => {
    await api?.close();
    await cluster.destroy();
  }, 30_000);

  /** Runs the CLI as the Job does (scenarios as arguments, settings from the environment). */
  function runner(scenarios: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; summaries: Summary[]; stderr: string }> {
    const child = spawn(process.execPath, [RUNNER, '--kubeconfig', kubeconfig, ...scenarios], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: cluster.databaseUrl,
        REDIS_URL: cluster.infra.redis.url,
        CHAOS_NAMESPACE: 'matchcast',
        CHAOS_RELEASE: 'matchcast',
        // One "Service" address for the clients: the first gateway.
        CHAOS_GATEWAY_URL: cluster.gateways[0]!.wsUrl,
        CHAOS_GATEWAY_OPS_PORT: String(OPS_PORT),
        CHAOS_POSTGRES_IN_CLUSTER: 'false',
        CHAOS_WARMUP_MS: '2000',
        CHAOS_STEADY_TIMEOUT_MS: '30000',
        CHAOS_DELIVERY_TIMEOUT_MS: '30000',
        CHAOS_READY_TIMEOUT_MS: '30000',
        ...extraEnv,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) =>
      child.on('exit', (code) => {
        const summaries = stdout.split('\n').filter((line) => line.startsWith('{"chaos"')).map((line) => JSON.parse(line) as Summary);
        for (const summary of summaries) console.log(JSON.stringify(summary));
        resolve({ code, summaries, stderr });
      }),
    );
  }

  it('redis-kill and redis-outage through the API: Redis really killed, stopped and started; nothing lost or doubled; exit 0', async () => {
    const { code, summaries, stderr } = await runner(['redis-kill', 'redis-outage']);
    if (code !== 0) console.log(stderr);
    expect(code).toBe(0);
    expect(summaries.map((s) => [s.chaos, s.ok, s.lost, s.duplicated, s.out_of_order, s.failures])).toEqual([
      ['redis-kill', true, 0, 0, 0, undefined],
      ['redis-outage', true, 0, 0, 0, undefined],
    ]);
    for (const summary of summaries) {
      expect(summary.events).toBeGreaterThan(0);
      expect(summary.deliveries).toBeGreaterThan(0);
      // Read from the gateways' own log lines, through the pod log API.
      expect(summary.fallback_ms).not.toBeNull();
      expect(summary.switch_back_ms).not.toBeNull();
    }

    // What the runner asked of the API server, in the client library's own wording.
    const requests = api.requests;
    expect(requests).toContainEqual(expect.stringMatching(/^DELETE \/api\/v1\/namespaces\/matchcast\/pods\/matchcast-redis-001\?.*gracePeriodSeconds=0/));
    const scales = requests.filter((r) => r.startsWith('PATCH'));
    expect(scales).toEqual(['PATCH /apis/apps/v1/namespaces/matchcast/deployments/matchcast-redis/scale', 'PATCH /apis/apps/v1/namespaces/matchcast/deployments/matchcast-redis/scale']);
    expect(requests).toContainEqual(expect.stringMatching(/^GET \/api\/v1\/namespaces\/matchcast\/pods\?labelSelector=app.kubernetes.io\/instance=matchcast,app.kubernetes.io\/component=redis$/));
    expect(requests).toContainEqual(expect.stringMatching(/^GET \/api\/v1\/namespaces\/matchcast\/pods\/matchcast-gateway-1:8083\/proxy\/readyz$/));
    expect(requests).toContainEqual(expect.stringMatching(/^GET \/api\/v1\/namespaces\/matchcast\/pods\/matchcast-gateway-0\/log\?.*container=notify-listener/));
    // The replacement pod after the kill, and the pod after scaling back to 1.
    expect(api.redisStarts).toBe(2);
  }, 240_000);

  it('fails (exit 1) when Redis never comes back, saying which step broke', async () => {
    api.holdRedis = true;
    try {
      const { code, summaries } = await runner(['redis-kill'], { CHAOS_READY_TIMEOUT_MS: '3000' });
      expect(code).toBe(1);
      expect(summaries).toHaveLength(1);
      expect(summaries[0]!.ok).toBe(false);
      expect(summaries[0]!.failures).toEqual(expect.arrayContaining([expect.stringMatching(/^step startRedis: deployment\/matchcast-redis not ready after 3000 ms/)]));
      // The gateways kept delivering from Postgres meanwhile: nothing lost even so.
      expect(summaries[0]!.lost).toBe(0);
    } finally {
      await api.releaseRedis();
    }
  }, 120_000);
});
