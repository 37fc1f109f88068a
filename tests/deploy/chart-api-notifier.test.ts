/**
 * The API and the notifier in the Helm chart: their pods, probes on the ops port each service
 * listens on (OPS_PORT), their own database users, Services, PDBs, HPA, NetworkPolicies whose
 * ports follow the configured ports, ServiceMonitors, and a development sign-in that no value
 * can turn on.
 */
import { basename, join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { toolsUnavailableReason } from './support/k8s-tools';
import { CHART, type Container, container, find, helmTemplate, kustomizeBuild, type Manifest, podSpec, REPO } from './support/manifests';
import { CI_VALUES, loadValues, mergeValues, validator } from './support/values';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`API/notifier chart checks skipped: ${reason}`);

const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);
type Probe = { httpGet?: { path: string; port: string | number } };
type Rule = { from?: Record<string, unknown>[]; ports: { port: number }[] };
const policy = (manifests: Manifest[], name: string) => find(manifests, 'NetworkPolicy', name).spec as { ingress: Rule[]; egress?: unknown[]; policyTypes: string[] };
const annotations = (d: Manifest) => (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;

/** The container port a probe reaches: a named port resolved against the container's ports. */
function probePort(c: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

describeWithHelm('API pods', () => {
  let manifests: Manifest[];
  let deployment: Manifest;
  let api: Container;
  beforeAll(() => {
    manifests = helmTemplate();
    deployment = find(manifests, 'Deployment', 'matchcast-api');
    api = container(deployment, 'api');
  });

  it('run two replicas of the API image, as the other services run (non-root, read-only root, no API token)', () => {
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    expect(podSpec(deployment).containers.map((c) => c.name)).toEqual(['api']);
    expect(api.image).toBe('matchcast-api:0.1.0');
    expect(podSpec(deployment).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(api.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect((podSpec(deployment) as { automountServiceAccountToken?: boolean }).automountServiceAccountToken).toBe(false);
    expect(api.resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '256Mi' } });
  });

  it('listen where PORT and OPS_PORT say, and are probed on the ops port (/healthz, /readyz)', () => {
    expect(api.ports).toEqual([
      { name: 'http', containerPort: 8090, protocol: 'TCP' },
      { name: 'ops', containerPort: 8091, protocol: 'TCP' },
    ]);
    expect(env(api, 'PORT')?.value).toBe('8090');
    expect(env(api, 'OPS_PORT')?.value).toBe('8091');
    expect([api.livenessProbe?.httpGet?.path, probePort(api, api.livenessProbe)]).toEqual(['/healthz', 8091]);
    expect([api.readinessProbe?.httpGet?.path, probePort(api, api.readinessProbe)]).toEqual(['/readyz', 8091]);
    expect([api.startupProbe?.httpGet?.path, probePort(api, api.startupProbe)]).toEqual(['/healthz', 8091]);
    // Moved ports move the variables, the probes and the policy with them.
    const moved = helmTemplate(['--set', 'api.containerPorts.http=9000', '--set', 'api.containerPorts.ops=9001']);
    const c = container(find(moved, 'Deployment', 'matchcast-api'), 'api');
    expect([env(c, 'PORT')?.value, env(c, 'OPS_PORT')?.value, probePort(c, c.readinessProbe)]).toEqual(['9000', '9001', 9001]);
    expect(policy(moved, 'matchcast-api').ingress.map((r) => r.ports.map((p) => p.port))).toEqual([[9000], [9001]]);
  });

  it('connect as their own database user, share the gateway\'s token keys, and read presence from Redis as their own optional user', () => {
    expect(env(api, 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'API_DATABASE_URL' });
    expect(env(api, 'AUTH_JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'AUTH_JWT_SECRET', optional: true });
    expect(env(api, 'AUTH_JWT_KEYS')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'AUTH_JWT_KEYS', optional: true });
    // Only the admin presence views use it; a Secret without the key still starts the API.
    expect(env(api, 'REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'API_REDIS_URL', optional: true });
    expect(api.envFrom).toEqual([{ configMapRef: { name: 'matchcast-api' } }]);
  });

  it('drain: preStop sleep, then SHUTDOWN_TIMEOUT_MS, within the grace period (checked at render time)', () => {
    const sleep = Number(api.lifecycle?.preStop?.exec?.command[1]);
    const shutdownMs = Number((find(manifests, 'ConfigMap', 'matchcast-api').data as Record<string, string>).SHUTDOWN_TIMEOUT_MS);
    expect(podSpec(deployment).terminationGracePeriodSeconds! * 1000).toBeGreaterThanOrEqual(sleep * 1000 + shutdownMs);
    expect(() => helmTemplate(['--set', 'api.terminationGracePeriodSeconds=10'])).toThrow(/api\.terminationGracePeriodSeconds/);
  });

  it('roll when their ConfigMap or the Secret change', () => {
    const before = annotations(deployment);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['checksum/config', 'checksum/secret']));
    const after = annotations(find(helmTemplate(['--set-string', 'api.config.PG_POOL_MAX=20']), 'Deployment', 'matchcast-api'));
    expect(after['checksum/config']).not.toBe(before['checksum/config']);
  });

  it('are behind a Service (REST port, and the ops port for scraping), a PDB and, optionally, an HPA', () => {
    const service = find(manifests, 'Service', 'matchcast-api');
    expect((service.spec as { ports: unknown[] }).ports).toEqual([
      { name: 'http', port: 8090, targetPort: 'http', protocol: 'TCP' },
      { name: 'ops', port: 8091, targetPort: 'ops', protocol: 'TCP' },
    ]);
    const selector = (deployment.spec as { selector: { matchLabels: unknown } }).selector;
    expect((service.spec as { selector: unknown }).selector).toEqual(selector.matchLabels);
    expect((find(manifests, 'PodDisruptionBudget', 'matchcast-api').spec as { selector: unknown; maxUnavailable: number })).toEqual({ selector, maxUnavailable: 1 });
    expect(manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    const scaled = helmTemplate(['--set', 'api.autoscaling.enabled=true']);
    const hpa = find(scaled, 'HorizontalPodAutoscaler', 'matchcast-api');
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'matchcast-api' }, minReplicas: 2, maxReplicas: 10 });
    expect((find(scaled, 'Deployment', 'matchcast-api').spec as { replicas?: number }).replicas).toBeUndefined();
  });
});

describeWithHelm('notifier pods', () => {
  let manifests: Manifest[];
  let deployment: Manifest;
  let notifier: Container;
  beforeAll(() => {
    manifests = helmTemplate();
    deployment = find(manifests, 'Deployment', 'matchcast-notifier');
    notifier = container(deployment, 'notifier');
  });

  it('run a leader and a standby, rolled one at a time, never both gone', () => {
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    expect((deployment.spec as { strategy: unknown }).strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect((find(manifests, 'PodDisruptionBudget', 'matchcast-notifier').spec as { maxUnavailable: number }).maxUnavailable).toBe(1);
    expect(notifier.image).toBe('matchcast-notifier:0.1.0');
    expect(notifier.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('serve only the ops port, where OPS_PORT says, and are probed there', () => {
    expect(notifier.ports).toEqual([{ name: 'ops', containerPort: 8092, protocol: 'TCP' }]);
    expect(env(notifier, 'OPS_PORT')?.value).toBe('8092');
    expect([notifier.livenessProbe?.httpGet?.path, probePort(notifier, notifier.livenessProbe)]).toEqual(['/healthz', 8092]);
    expect(probePort(notifier, notifier.readinessProbe)).toBe(8092);
    expect((find(manifests, 'Service', 'matchcast-notifier').spec as { clusterIP: string; ports: unknown[] })).toMatchObject({
      clusterIP: 'None',
      ports: [{ name: 'ops', port: 8092, targetPort: 'ops', protocol: 'TCP' }],
    });
  });

  it('connect as their own database user and use no Redis', () => {
    expect(env(notifier, 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'NOTIFIER_DATABASE_URL' });
    expect(env(notifier, 'REDIS_URL')).toBeUndefined();
    expect(notifier.envFrom).toEqual([{ configMapRef: { name: 'matchcast-notifier' } }]);
  });

  it('have a grace period that covers SHUTDOWN_TIMEOUT_MS (checked at render time)', () => {
    expect(() => helmTemplate(['--set-string', 'notifier.config.SHUTDOWN_TIMEOUT_MS=30000'])).toThrow(/notifier\.terminationGracePeriodSeconds/);
  });
});

describeWithHelm('API and notifier network policies', () => {
  it('API: REST from the ingress controller and client-labelled pods only; the ops port for scrapers; nothing else', () => {
    const rules = policy(helmTemplate(), 'matchcast-api').ingress;
    expect(rules).toEqual([
      {
        ports: [{ port: 8090, protocol: 'TCP' }],
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          },
          { podSelector: { matchLabels: { 'matchcast-client': 'true' } } },
        ],
      },
      { ports: [{ port: 8091, protocol: 'TCP' }] },
    ]);
    const scoped = policy(helmTemplate(['--set', 'networkPolicy.metricsNamespaceSelector.matchLabels.name=monitoring']), 'matchcast-api').ingress[1]!;
    expect(scoped.from).toEqual([{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }]);
  });

  it('notifier: the ops port only, from the metrics namespaces', () => {
    expect(policy(helmTemplate(), 'matchcast-notifier').ingress).toEqual([{ ports: [{ port: 8092, protocol: 'TCP' }] }]);
    const scoped = policy(helmTemplate(['--set', 'networkPolicy.metricsNamespaceSelector.matchLabels.name=monitoring']), 'matchcast-notifier');
    expect(scoped.ingress).toEqual([{ ports: [{ port: 8092, protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }] }]);
  });

  it('locked-down egress: DNS and PostgreSQL for both, and Redis for the API (presence) only', () => {
    const manifests = helmTemplate(['--set', 'networkPolicy.allowExternalEgress=false']);
    const dns = { ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] };
    const postgres = {
      to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'matchcast', 'app.kubernetes.io/instance': 'matchcast', 'app.kubernetes.io/component': 'postgresql' } } }],
      ports: [{ port: 5432, protocol: 'TCP' }],
    };
    const redis = {
      to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'matchcast', 'app.kubernetes.io/instance': 'matchcast', 'app.kubernetes.io/component': 'redis' } } }],
      ports: [{ port: 6379, protocol: 'TCP' }],
    };
    for (const [name, egress] of [['matchcast-api', [dns, postgres, redis]], ['matchcast-notifier', [dns, postgres]]] as const) {
      const spec = policy(manifests, name);
      expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(spec.egress).toEqual(egress);
    }
  });
});

describeWithHelm('API and notifier: optional parts and credentials', () => {
  it('ServiceMonitors scrape the ops port of each, through a Service that has that port', () => {
    const manifests = helmTemplate(['--set', 'metrics.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true']);
    for (const name of ['matchcast-api', 'matchcast-notifier']) {
      const monitor = find(manifests, 'ServiceMonitor', name).spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
      expect(monitor.endpoints.map((e) => [e.port, e.path])).toEqual([['ops', '/metrics']]);
      const service = manifests.find((m) => m.kind === 'Service' && Object.entries(monitor.selector.matchLabels).every(([k, v]) => m.metadata.labels?.[k] === v))!;
      expect((service.spec as { ports: { name: string }[] }).ports.map((p) => p.name)).toContain('ops');
      const deployment = find(manifests, 'Deployment', name);
      expect(annotations(deployment)['prometheus.io/port']).toBe(name === 'matchcast-api' ? '8091' : '8092');
    }
  });

  it('disabled, they leave nothing behind: no objects, no URLs, no PostgreSQL access', () => {
    const manifests = helmTemplate(['--set', 'api.enabled=false', '--set', 'notifier.enabled=false', '--set', 'ingress.enabled=true', '--set', 'metrics.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true']);
    expect(manifests.filter((m) => /-(api|notifier)$/.test(m.metadata.name)).map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([]);
    const urls = find(manifests, 'Secret', 'matchcast').stringData as Record<string, string>;
    expect(Object.keys(urls).filter((k) => /^(API|NOTIFIER)_/.test(k))).toEqual([]);
  });

  it('TRUSTED_PROXY_HOPS left empty is 1 behind the chart\'s Ingress (which appends X-Forwarded-For) and 0 without it; a value given stays', () => {
    const hops = (args: string[]) => {
      const manifests = helmTemplate(args);
      return ['matchcast-gateway', 'matchcast-api'].map((name) => (find(manifests, 'ConfigMap', name).data as Record<string, string>).TRUSTED_PROXY_HOPS);
    };
    expect(hops([])).toEqual(['0', '0']);
    expect(hops(['--set', 'ingress.enabled=true'])).toEqual(['1', '1']);
    expect(hops(['--set', 'ingress.enabled=true', '--set-string', 'gateway.config.TRUSTED_PROXY_HOPS=2', '--set-string', 'api.config.TRUSTED_PROXY_HOPS=0'])).toEqual(['2', '0']);
  });

  it('the SSE position key: in the Secret, generated (32+ characters) or given; too short a given key is refused', () => {
    const secret = (args: string[] = []) => find(helmTemplate(args), 'Secret', 'matchcast').stringData as Record<string, string>;
    expect(secret().SSE_POSITION_KEY).toMatch(/^[A-Za-z0-9]{32,}$/);
    expect(secret().SSE_POSITION_KEY).not.toBe(secret().SSE_POSITION_KEY);
    const given = 'k'.repeat(40);
    expect(secret(['--set', `secrets.ssePositionKey=${given}`]).SSE_POSITION_KEY).toBe(given);
    expect(() => helmTemplate(['--set', 'secrets.ssePositionKey=short'])).toThrow(/ssePositionKey/);
  });

  it('an existing Secret with the in-chart PostgreSQL needs the API and notifier passwords too', () => {
    const given = ['password', 'gatewayPassword', 'notifyListenerPassword', 'crawlerPassword'].flatMap((k) => ['--set', `postgresql.auth.${k}=x`]);
    expect(() => helmTemplate(['--set', 'secrets.existingSecret=mine', '--set', 'redis.enabled=false', ...given])).toThrow(/postgresql\.auth\.apiPassword/);
    expect(() => helmTemplate(['--set', 'secrets.existingSecret=mine', '--set', 'redis.enabled=false', ...given, '--set', 'postgresql.auth.apiPassword=x'])).toThrow(/notifierPassword/);
  });
});

/** Every DEV_SIGN_IN a set of manifests passes to a container. */
function devSignIns(manifests: Manifest[]): string[] {
  return manifests
    .filter((m) => ['Deployment', 'StatefulSet', 'Job', 'Pod'].includes(m.kind))
    .flatMap((m) => [...podSpec(m).containers, ...(podSpec(m).initContainers ?? [])].map((c) => [m, c] as const))
    .flatMap(([m, c]) => {
      const fromConfigMaps = (c.envFrom ?? []).flatMap((from) => {
        const cm = manifests.find((x) => x.kind === 'ConfigMap' && x.metadata.name === from.configMapRef?.name);
        const value = (cm?.data as Record<string, string> | undefined)?.DEV_SIGN_IN;
        return value === undefined ? [] : [`${m.metadata.name}/${c.name} envFrom: ${value}`];
      });
      const direct = (c.env ?? []).filter((e) => e.name === 'DEV_SIGN_IN').map((e) => `${m.metadata.name}/${c.name}: ${e.value ?? 'valueFrom'}`);
      return [...fromConfigMaps, ...direct];
    });
}

describe('the development sign-in is never on in a cluster', () => {
  it('is no chart value: the schema refuses it in api.config and in api.extraEnv', () => {
    const validate = validator();
    const defaults = loadValues();
    expect(validate(mergeValues(defaults, { api: { config: { DEV_SIGN_IN: 'true' } } }))).toBe(false);
    expect(validate(mergeValues(defaults, { api: { extraEnv: [{ name: 'DEV_SIGN_IN', value: 'true' }] } }))).toBe(false);
    expect(validate(mergeValues(defaults, { api: { extraEnv: [{ name: 'OTHER', value: 'x' }] } }))).toBe(true);
  });

  it('no file in charts/ or k8s/ sets it (as a key, or in an .env file) to anything but "false"', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    const settings = [...files(CHART), ...files(join(REPO, 'k8s'))].flatMap((path) =>
      [...readFileSync(path, 'utf8').matchAll(/^\s*(?:- )?DEV_SIGN_IN\s*[:=]\s*(.*)$/gm)].map((m) => `${path.slice(REPO.length + 1)}: ${m[1]}`),
    );
    expect(settings.filter((s) => !/: ("false"|'false'|false)\s*$/.test(s))).toEqual([]);
  });

  const describeRendered = reason ? describe.skip : describe;
  describeRendered('rendered', () => {
    it.each([['defaults', []], ...CI_VALUES.map((f): [string, string[]] => [basename(f), ['-f', f]])])('chart with %s: only DEV_SIGN_IN=false, the API container\'s last variable', (_name, args) => {
      const manifests = helmTemplate(args as string[]);
      expect(devSignIns(manifests)).toEqual(['matchcast-api/api: false']);
      expect(container(find(manifests, 'Deployment', 'matchcast-api'), 'api').env!.at(-1)).toEqual({ name: 'DEV_SIGN_IN', value: 'false' });
    });

    it('chart: an extraEnv entry that names it fails the render, by the schema and, without it, by the template', () => {
      expect(() => helmTemplate(['--set', 'api.extraEnv[0].name=DEV_SIGN_IN', '--set-string', 'api.extraEnv[0].value=true'])).toThrow(/DEV_SIGN_IN/);
      expect(() => helmTemplate(['--skip-schema-validation', '--set', 'api.extraEnv[0].name=DEV_SIGN_IN', '--set-string', 'api.extraEnv[0].value=true'])).toThrow(/never enabled by this chart/);
    });

    it.each(['base', 'overlays/dev', 'overlays/prod'])('k8s/%s: only DEV_SIGN_IN=false', (dir) => {
      expect(devSignIns(kustomizeBuild(join(REPO, 'k8s', dir)))).toEqual(['matchcast-api/api: false']);
    });
  });
});
