/**
 * The chaos runner as a Job (templates/chaos-job.yaml): off unless asked, schema-valid, and
 * wired so that the runner's own config loader (services/chaos/src/config.ts), fed the Job's
 * environment, points at this release's pods, Service and workloads; the chaos Role allows
 * every API call the Redis drills make.
 */
import { join } from 'node:path';
import { EnvReader } from '@matchcast/runtime';
import { loadConfig } from '../../services/chaos/src/config';
import { SCENARIOS } from '../../services/chaos/src/scenarios';
import { toolsUnavailableReason } from './support/k8s-tools';
import { CHART, container, find, helmTemplate, type Manifest, podSpec, schemaErrors } from './support/manifests';
import { loadSchema, schemaAt } from './support/values';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`chaos Job checks skipped: ${reason}`);

const KIND = ['-f', join(CHART, 'ci', 'kind-values.yaml')];

/** The Job container's environment, secret references replaced by stand-in URLs. */
function jobEnv(job: Manifest): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container(job, 'chaos').env ?? []) {
    const secretKey = variable.valueFrom?.secretKeyRef?.key;
    env[variable.name] = variable.value ?? (secretKey === 'DATABASE_URL' ? 'postgres://owner:x@db:5432/matchcast' : `redis://chaos:x@redis:6379`);
  }
  return env;
}

describeWithHelm('chaos runner Job', () => {
  it('is rendered only with chaos.enabled and chaos.job.enabled', () => {
    expect(helmTemplate(KIND).some((m) => m.kind === 'Job' && m.metadata.name.startsWith('matchcast-chaos'))).toBe(false);
    expect(helmTemplate(['--set', 'chaos.job.enabled=true']).some((m) => m.kind === 'Job')).toBe(false);
  });

  it('runs the Redis drills with the chaos ServiceAccount, the schema owner\'s database URL and the chaos Redis user', () => {
    const manifests = helmTemplate([...KIND, '--set', 'chaos.job.enabled=true']);
    const job = find(manifests, 'Job', 'matchcast-chaos-1');
    expect(schemaErrors(job)).toEqual([]);
    expect((job.spec as { backoffLimit: number }).backoffLimit).toBe(0);
    const spec = podSpec(job) as ReturnType<typeof podSpec> & { restartPolicy: string; automountServiceAccountToken: boolean };
    expect(spec).toMatchObject({ serviceAccountName: 'matchcast-chaos', restartPolicy: 'Never', automountServiceAccountToken: true });
    const chaos = container(job, 'chaos');
    expect(chaos.image).toBe('matchcast-chaos:ci');
    expect(chaos.args).toEqual(['redis-kill', 'redis-outage']);
    expect(chaos.resources).toMatchObject({ requests: { memory: '256Mi' }, limits: { memory: '256Mi' } });
    const secretRefs = Object.fromEntries((chaos.env ?? []).filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom!.secretKeyRef]));
    expect(secretRefs).toEqual({
      DATABASE_URL: { name: 'matchcast', key: 'DATABASE_URL' },
      REDIS_URL: { name: 'matchcast', key: 'CHAOS_REDIS_URL', optional: true },
    });
    // The Secret has the chaos user's URL, and the Redis and Postgres policies admit the Job's pods.
    expect(Object.keys(find(manifests, 'Secret', 'matchcast').stringData as object)).toContain('CHAOS_REDIS_URL');
    const labels = (job.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(labels).toMatchObject({ 'app.kubernetes.io/instance': 'matchcast', 'app.kubernetes.io/component': 'chaos', 'matchcast-client': 'true' });
  });

  it('gives the runner its targets: the loader reads this release\'s names from the Job\'s environment', () => {
    const release = 'drills';
    const job = helmTemplate(
      [...KIND, '--set', 'chaos.job.enabled=true', '--set', 'fullnameOverride=live', '--set', 'gateway.containerPorts.ops=9093', '--set-string', 'chaos.job.config.CHAOS_WARMUP_MS=3000'],
      release,
    ).find(
      (m) => m.kind === 'Job',
    )!;
    expect(job.metadata.name).toBe('live-chaos-1');
    const config = loadConfig(new EnvReader(jobEnv(job)));
    expect(config.warmupMs).toBe(3000);
    expect(config.cluster).toMatchObject({
      namespace: 'matchcast',
      clientUrl: 'ws://live-gateway.matchcast.svc:8080/ws',
      gateway: { selector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=gateway`, workload: { kind: 'Deployment', name: 'live-gateway' }, port: 8080, opsPort: 9093 },
      redis: { selector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=redis`, workload: { kind: 'Deployment', name: 'live-redis' } },
      postgres: { workload: { kind: 'StatefulSet', name: 'live-postgresql' } },
    });
    // The pods the selectors name exist in the same render.
    const rendered = helmTemplate([...KIND, '--set', 'fullnameOverride=live'], release);
    for (const [kind, name, component] of [['Deployment', 'live-gateway', 'gateway'], ['Deployment', 'live-redis', 'redis'], ['StatefulSet', 'live-postgresql', 'postgresql']] as const) {
      const labels = (find(rendered, kind, name).spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      expect(labels).toMatchObject({ 'app.kubernetes.io/instance': release, 'app.kubernetes.io/component': component });
    }
  });

  it('offers exactly the runner\'s scenarios', () => {
    const items = schemaAt(loadSchema(), 'chaos.job.scenarios')!.items as { enum: string[] };
    expect([...items.enum].sort()).toEqual([...SCENARIOS.map((s) => s.name), 'all'].sort());
  });

  it('has a Role that allows the Redis drills\' API calls, in the namespace only', () => {
    const manifests = helmTemplate([...KIND, '--set', 'chaos.job.enabled=true']);
    const rules = find(manifests, 'Role', 'matchcast-chaos').rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const allows = (group: string, resource: string, verb: string) =>
      rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    // services/chaos/src/kube-api.ts: list and delete pods, read logs, read and scale the Redis Deployment.
    for (const [group, resource, verb] of [
      ['', 'pods', 'list'],
      ['', 'pods', 'delete'],
      ['', 'pods/log', 'get'],
      ['apps', 'deployments', 'get'],
      ['apps', 'deployments/scale', 'patch'],
    ] as const) {
      expect([resource, verb, allows(group, resource, verb)]).toEqual([resource, verb, true]);
    }
  });
});
