/**
 * k8s/: every manifest that `kustomize build` produces for the base and each overlay validates
 * against the Kubernetes schemas, references resolve, and the base is the chart's defaults
 * (for external PostgreSQL/Redis) object for object. Kustomize is the real one built into the
 * kubectl from the pnpm dependencies; where that cannot run, each file is validated on its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolsUnavailableReason } from './support/k8s-tools';
import { byId, CHART, container, containerEnv, find, helmTemplate, kustomizeBuild, type Manifest, normalize, parseManifests, podSpec, REPO, schemaErrors, stripHash } from './support/manifests';

const K8S = join(REPO, 'k8s');
const OVERLAYS = readdirSync(join(K8S, 'overlays'));
const reason = toolsUnavailableReason();
const describeWithTools = reason ? describe.skip : describe;
if (reason) console.warn(`kustomize build checks skipped: ${reason}`);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return entry.name.endsWith('.yaml') && entry.name !== 'kustomization.yaml' ? [path] : [];
  });
}

describe('k8s/ files, one by one (no kustomize needed)', () => {
  it.each(yamlFiles(K8S).map((path) => [path.slice(K8S.length + 1), path]))('%s validates', (_name, path) => {
    // A JSON 6902 patch (a list of operations) is no object of its own: the overlay build checks it.
    if (Array.isArray(parseManifests(readFileSync(path, 'utf8'), path)[0])) return;
    const manifests = parseManifests(readFileSync(path, 'utf8'), path);
    expect(manifests.length).toBeGreaterThan(0);
    expect(manifests.flatMap(schemaErrors)).toEqual([]);
  });

  it('has a dev and a prod overlay', () => {
    expect(OVERLAYS.sort()).toEqual(['dev', 'prod']);
  });
});

/** Names a build refers to (ConfigMaps, Secrets, ServiceAccounts) that it does not define. */
function danglingReferences(manifests: Manifest[]): string[] {
  const defined = new Set(manifests.map((m) => `${m.kind}/${m.metadata.name}`));
  const missing = new Set<string>();
  for (const workload of manifests.filter((m) => ['Deployment', 'StatefulSet', 'Job'].includes(m.kind))) {
    const spec = podSpec(workload);
    if (spec.serviceAccountName && !defined.has(`ServiceAccount/${spec.serviceAccountName}`)) missing.add(`ServiceAccount/${spec.serviceAccountName}`);
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      for (const from of c.envFrom ?? []) {
        if (from.configMapRef && !defined.has(`ConfigMap/${from.configMapRef.name}`)) missing.add(`ConfigMap/${from.configMapRef.name}`);
        if (from.secretRef && !defined.has(`Secret/${from.secretRef.name}`)) missing.add(`Secret/${from.secretRef.name}`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !ref.optional && !defined.has(`Secret/${ref.name}`)) missing.add(`Secret/${ref.name}`);
      }
    }
  }
  return [...missing].sort();
}

describeWithTools('kustomize build', () => {
  it.each(['base', ...OVERLAYS.map((o) => `overlays/${o}`)])('k8s/%s builds into schema-valid objects', (dir) => {
    const manifests = kustomizeBuild(join(K8S, dir));
    expect(manifests.length).toBeGreaterThan(8);
    expect(manifests.flatMap(schemaErrors)).toEqual([]);
  });

  it('dev is self-contained: every ConfigMap, Secret and ServiceAccount it refers to is in the build', () => {
    expect(danglingReferences(kustomizeBuild(join(K8S, 'overlays', 'dev')))).toEqual([]);
  });

  it('prod needs only the connection Secret the operator creates', () => {
    expect(danglingReferences(kustomizeBuild(join(K8S, 'overlays', 'prod')))).toEqual(['Secret/matchcast']);
  });

  it('overlays put everything in their namespace', () => {
    for (const [overlay, namespace] of [['dev', 'matchcast-dev'], ['prod', 'matchcast']] as const) {
      const manifests = kustomizeBuild(join(K8S, 'overlays', overlay));
      const namespaced = manifests.filter((m) => m.kind !== 'Namespace');
      expect(namespaced.filter((m) => m.metadata.namespace !== namespace).map((m) => m.metadata.name)).toEqual([]);
      expect(find(manifests, 'Namespace', namespace)).toBeDefined();
    }
  });

  it('prod: the HPAs own the gateway and API replica counts, the merged ConfigMaps keep every base variable', () => {
    const prod = kustomizeBuild(join(K8S, 'overlays', 'prod'));
    const base = kustomizeBuild(join(K8S, 'base'));
    for (const name of ['matchcast-gateway', 'matchcast-api']) {
      expect((find(prod, 'Deployment', name).spec as { replicas?: number }).replicas).toBeUndefined();
      const hpa = find(prod, 'HorizontalPodAutoscaler', name);
      expect((hpa.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name).toBe(name);
      const env = containerEnv(podSpec(find(prod, 'Deployment', name)).containers[0]!, prod);
      const baseEnv = containerEnv(podSpec(find(base, 'Deployment', name)).containers[0]!, base);
      expect([name, [...env.keys()].sort()]).toEqual([name, [...baseEnv.keys()].sort()]);
    }
    const gateway = find(prod, 'Deployment', 'matchcast-gateway');
    const env = containerEnv(podSpec(gateway).containers[0]!, prod);
    const baseEnv = containerEnv(podSpec(find(base, 'Deployment', 'matchcast-gateway')).containers[0]!, base);
    expect([...env.keys()].sort()).toEqual([...baseEnv.keys()].sort());
    expect(env.get('AUTH_REQUIRED')).toEqual({ kind: 'value', value: 'true' });
  });

  it('base equals the chart rendered for external databases (same objects, specs, labels and config)', () => {
    const chart = helmTemplate([
      '--set', 'postgresql.enabled=false', '--set', 'redis.enabled=false', '--set', 'externalRedis.enabled=true',
      '--set', 'secrets.existingSecret=matchcast', '--set', 'migrations.strategy=initContainer', '--set', 'tests.enabled=false',
    ]);
    const base = kustomizeBuild(join(K8S, 'base'));
    expect(base.map(normalize).sort(byId)).toEqual(chart.map(normalize).sort(byId));
  });

  it('dev overlay equals the chart (defaults, chaos RBAC, the laptop-sized gateway) object for object; Secrets by their keys', () => {
    const chart = helmTemplate([
      '--set', 'chaos.enabled=true', '--set', 'tests.enabled=false', '--namespace', 'matchcast-dev',
      '--set', 'gateway.resources.requests.cpu=50m', '--set', 'gateway.resources.requests.memory=256Mi', '--set', 'gateway.resources.limits.memory=256Mi',
    ]);
    const dev = kustomizeBuild(join(K8S, 'overlays', 'dev')).filter((m) => m.kind !== 'Namespace');
    expect(dev.map(comparable).sort(byId)).toEqual(chart.map(comparable).sort(byId));
  });

  it('prod overlay: each object it adds equals the chart\'s with ci/production-values.yaml, and its workloads are the base\'s but for its patches', () => {
    const prod = kustomizeBuild(join(K8S, 'overlays', 'prod'));
    const base = kustomizeBuild(join(K8S, 'base'));
    const chart = helmTemplate(['-f', join(CHART, 'ci', 'production-values.yaml')]);
    const id = (m: Manifest) => `${m.kind}/${stripHash(m.metadata.name)}`;
    const ids = new Set(base.map(id));
    const added = prod.filter((m) => m.kind !== 'Namespace' && !ids.has(id(m)));
    expect(added.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'HorizontalPodAutoscaler/matchcast-api', 'HorizontalPodAutoscaler/matchcast-gateway', 'Ingress/matchcast-gateway', 'Service/matchcast-metrics',
      'ServiceMonitor/matchcast-api', 'ServiceMonitor/matchcast-crawler', 'ServiceMonitor/matchcast-gateway', 'ServiceMonitor/matchcast-notifier',
    ]);
    for (const object of added) {
      expect([id(object), comparable(object)]).toEqual([id(object), comparable(find(chart, object.kind, object.metadata.name))]);
    }
    // The workloads: the base's, with the registry, the HPA-owned replicas, the gateway's resources and the merged config.
    for (const name of ['matchcast-gateway', 'matchcast-api', 'matchcast-crawler', 'matchcast-notifier']) {
      const strip = (m: Manifest) => {
        const c = comparable(m) as Manifest & { spec: { replicas?: number; template: { spec: { containers: { image?: string; resources?: unknown }[]; initContainers?: { image?: string }[] } } } };
        delete c.spec.replicas;
        for (const x of [...c.spec.template.spec.containers, ...(c.spec.template.spec.initContainers ?? [])]) x.image = x.image?.replace(/^ghcr\.io\/example\//, '');
        if (name === 'matchcast-gateway') delete c.spec.template.spec.containers[0]!.resources;
        return c;
      };
      expect([name, strip(find(prod, 'Deployment', name))]).toEqual([name, strip(find(base, 'Deployment', name))]);
    }
    const gateway = podSpec(find(prod, 'Deployment', 'matchcast-gateway')).containers[0]!;
    expect(gateway.resources).toEqual(container(find(chart, 'Deployment', 'matchcast-gateway'), 'gateway').resources);
  });
});

/** normalize(), plus: no namespace, Secrets by their key names only (generated and fixed dev passwords differ by design), hash suffixes gone. */
function comparable(manifest: Manifest): Manifest {
  const m = normalize(manifest) as Manifest & { data?: Record<string, string>; stringData?: Record<string, string>; type?: string };
  m.metadata.name = stripHash(m.metadata.name);
  if (m.kind === 'Secret') {
    const keys = Object.keys({ ...m.data, ...m.stringData }).sort();
    delete m.stringData;
    m.data = Object.fromEntries(keys.map((k) => [k, '<value>']));
    m.type ??= 'Opaque';
    delete m.metadata.annotations;
    // kustomize's generator labels carry no version/part-of, as for ConfigMaps in normalize().
    for (const label of ['app.kubernetes.io/version', 'app.kubernetes.io/part-of']) delete m.metadata.labels?.[label];
  }
  return JSON.parse(JSON.stringify(m).replace(/-[bcdfghkmnt2-9]{10}"/g, '"')) as Manifest;
}

describe('k8s/ credentials', () => {
  it('the dev overlay ships identical copies of the chart\'s Redis ACL template and start script', () => {
    for (const file of ['redis-users.acl', 'redis-start.sh']) {
      expect([file, readFileSync(join(K8S, 'overlays', 'dev', file), 'utf8')]).toEqual([file, readFileSync(join(CHART, 'files', file), 'utf8')]);
    }
  });

  it('base and prod hold no password: the operator\'s Secret does; dev\'s fixed passwords are all marked dev-only', () => {
    const files = yamlFiles(K8S).concat(['base', 'overlays/prod', 'overlays/dev'].map((d) => join(K8S, d, 'kustomization.yaml')));
    for (const path of files.filter((f) => !f.includes(`${join('overlays', 'dev')}`))) {
      expect([path, readFileSync(path, 'utf8').match(/:\/\/[^:/\s]+:[^@\s…<]+@|PASSWORD=\S/g)]).toEqual([path, null]);
    }
    const dev = readFileSync(join(K8S, 'overlays', 'dev', 'kustomization.yaml'), 'utf8');
    const passwords = [...dev.matchAll(/(?:PASSWORD=|:\/\/[^:]+:)([^@\s]+)/g)].map((m) => m[1]!);
    expect(passwords.length).toBeGreaterThanOrEqual(14);
    expect(passwords.filter((p) => !p.startsWith('dev-only-'))).toEqual([]);
    expect(dev).toContain('FIXED DEV-ONLY VALUES');
  });
});

describeWithTools('k8s/ credentials, built', () => {
  it('every service reads its own URL keys from the Secret, in base and in both overlays', () => {
    for (const dir of ['base', 'overlays/dev', 'overlays/prod']) {
      const manifests = kustomizeBuild(join(K8S, dir));
      const keys = (deployment: string, name: string) => {
        const c = container(find(manifests, 'Deployment', deployment), name);
        return (c.env ?? []).filter((e) => /_URL$/.test(e.name)).map((e) => `${e.name}<-${e.valueFrom?.secretKeyRef?.key}`);
      };
      expect([dir, keys('matchcast-gateway', 'gateway')]).toEqual([dir, ['DATABASE_URL<-GATEWAY_DATABASE_URL', 'REDIS_URL<-GATEWAY_REDIS_URL']]);
      expect([dir, keys('matchcast-gateway', 'notify-listener')]).toEqual([dir, ['DATABASE_URL<-LISTENER_DATABASE_URL', 'REDIS_URL<-LISTENER_REDIS_URL']]);
      expect([dir, keys('matchcast-crawler', 'crawler')]).toEqual([dir, ['DATABASE_URL<-CRAWLER_DATABASE_URL']]);
      expect([dir, keys('matchcast-api', 'api')]).toEqual([dir, ['DATABASE_URL<-API_DATABASE_URL', 'REDIS_URL<-API_REDIS_URL']]);
      expect([dir, keys('matchcast-notifier', 'notifier')]).toEqual([dir, ['DATABASE_URL<-NOTIFIER_DATABASE_URL']]);
    }
  });

  it('dev: the db-users init container equals the chart\'s, the Redis pod and NetworkPolicies equal the chart\'s', () => {
    const dev = kustomizeBuild(join(K8S, 'overlays', 'dev'));
    const chart = helmTemplate(['--set', 'chaos.enabled=true', '--set', 'tests.enabled=false', '--namespace', 'matchcast-dev']);
    for (const name of ['matchcast-gateway', 'matchcast-crawler', 'matchcast-api', 'matchcast-notifier']) {
      const init = (ms: Manifest[]) => podSpec(find(ms, 'Deployment', name)).initContainers!.map((c) => c.name);
      expect(init(dev)).toEqual(init(chart));
      // Generated Secret names carry kustomize's hash suffix.
      const users = (ms: Manifest[]) => JSON.parse(JSON.stringify(podSpec(find(ms, 'Deployment', name)).initContainers![0]).replace(/-[bcdfghkmnt2-9]{10}"/g, '"'));
      expect(users(dev)).toEqual(users(chart));
    }
    for (const [kind, name] of [['NetworkPolicy', 'matchcast-redis'], ['NetworkPolicy', 'matchcast-postgresql'], ['Deployment', 'matchcast-redis']] as const) {
      const spec = (ms: Manifest[]) => {
        // Generated ConfigMap and Secret names carry kustomize's hash suffix.
        return JSON.parse(JSON.stringify(normalize(find(ms, kind, name)).spec).replace(/-[bcdfghkmnt2-9]{10}"/g, '"'));
      };
      expect([name, spec(dev)]).toEqual([name, spec(chart)]);
    }
  });
});
