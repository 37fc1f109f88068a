/**
 * The Helm chart, rendered by a real helm binary (from the pnpm dependencies) with its default
 * values and each ci/*-values.yaml: lint, Kubernetes schema validation of every manifest, and
 * the deployment promises (sidecar, probes, drain sizing, hooks, checksums, RBAC, helm test).
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { toolsUnavailableReason, runTool } from './support/k8s-tools';
import { CHART, type Container, container, find, helmTemplate, type Manifest, type PodSpec, podSpec, schemaErrors } from './support/manifests';
import { CI_VALUES } from './support/values';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`chart render checks skipped: ${reason}`);

const VALUE_SETS: [string, string[]][] = [
  ['defaults', []],
  ...CI_VALUES.map((file): [string, string[]] => [basename(file), ['-f', file]]),
];

describeWithHelm('helm lint and template', () => {
  it.each(VALUE_SETS)('lints cleanly (--strict) with %s', (_name, args) => {
    const result = runTool('helm', ['lint', CHART, '--strict', ...args]);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  it.each(VALUE_SETS)('renders only schema-valid Kubernetes objects with %s', (_name, args) => {
    const manifests = helmTemplate(args);
    expect(manifests.length).toBeGreaterThan(8);
    expect(manifests.flatMap(schemaErrors)).toEqual([]);
  });

  it('catches an invalid object (the validation is live)', () => {
    const [deployment] = helmTemplate(['--show-only', 'templates/gateway-deployment.yaml']);
    const broken = JSON.parse(JSON.stringify(deployment)) as Manifest;
    (podSpec(broken).containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'http';
    expect(schemaErrors(broken).join()).toMatch(/containerPort/);
  });

  it('refuses values the schema does not know', () => {
    expect(() => helmTemplate(['--set-string', 'gateway.config.WS_MAX_CONECTIONS=10'])).toThrow(/WS_MAX_CONECTIONS/);
  });
});

describeWithHelm('gateway pods', () => {
  let manifests: Manifest[];
  let deployment: Manifest;
  let spec: PodSpec;
  let gateway: Container;
  let listener: Container;
  let config: Record<string, string>;
  beforeAll(() => {
    manifests = helmTemplate();
    deployment = find(manifests, 'Deployment', 'matchcast-gateway');
    spec = podSpec(deployment);
    gateway = container(deployment, 'gateway');
    listener = container(deployment, 'notify-listener');
    config = find(manifests, 'ConfigMap', 'matchcast-gateway').data as Record<string, string>;
  });

  it('share one SSE position key, from the Secret (generated there, kept on upgrade)', () => {
    expect(gateway.env?.find((e) => e.name === 'SSE_POSITION_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'SSE_POSITION_KEY' });
    expect((find(manifests, 'Secret', 'matchcast').stringData as Record<string, string>).SSE_POSITION_KEY).toMatch(/^.{32,}$/);
    const existing = helmTemplate(['-f', join(CHART, 'ci', 'production-values.yaml')]);
    expect(container(find(existing, 'Deployment', 'matchcast-gateway'), 'gateway').env?.find((e) => e.name === 'SSE_POSITION_KEY')?.valueFrom?.secretKeyRef)
      .toEqual({ name: 'matchcast-connections', key: 'SSE_POSITION_KEY' });
  });

  it('give the notify-listener and the gateway the same bus signing keys, generated in the Secret, optional in an existing one', () => {
    const ref = { name: 'matchcast', key: 'BUS_SIGNING_KEYS', optional: true };
    for (const c of [gateway, listener]) expect(c.env?.find((e) => e.name === 'BUS_SIGNING_KEYS')?.valueFrom?.secretKeyRef).toEqual(ref);
    expect((find(manifests, 'Secret', 'matchcast').stringData as Record<string, string>).BUS_SIGNING_KEYS).toMatch(/^[A-Za-z0-9]{32,}$/);
    const existing = helmTemplate(['-f', join(CHART, 'ci', 'production-values.yaml')]);
    expect(container(find(existing, 'Deployment', 'matchcast-gateway'), 'notify-listener').env?.find((e) => e.name === 'BUS_SIGNING_KEYS')?.valueFrom?.secretKeyRef)
      .toEqual({ ...ref, name: 'matchcast-connections' });
    // The schema refuses a key the services would refuse at start-up.
    expect(() => helmTemplate(['--set', 'secrets.busSigningKeys=too-short'])).toThrow(/busSigningKeys/);
  });

  it('carry the notify-listener as a native sidecar, with its own config and the same secrets', () => {
    expect(spec.containers.map((c) => c.name)).toEqual(['gateway']);
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['db-users', 'migrate', 'notify-listener']);
    expect(listener.restartPolicy).toBe('Always');
    expect(listener.image).toBe('matchcast-notify-listener:0.1.0');
    expect(listener.envFrom).toEqual([{ configMapRef: { name: 'matchcast-notify-listener' } }]);
    expect(listener.env?.find((e) => e.name === 'LISTENER_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    // Each container its own credentials: the gateway's and the listener's own PostgreSQL and Redis users.
    for (const [c, prefix] of [[gateway, 'GATEWAY'], [listener, 'LISTENER']] as const) {
      expect(c.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: `${prefix}_DATABASE_URL` });
      expect(c.env?.find((e) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: `${prefix}_REDIS_URL` });
    }
  });

  it('probe the ops port: liveness /healthz, readiness /readyz; the sidecar never gates readiness', () => {
    expect(gateway.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'ops', containerPort: 8083, protocol: 'TCP' }]);
    expect(gateway.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'ops' });
    expect(gateway.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'ops' });
    expect(gateway.env?.find((e) => e.name === 'PORT')?.value).toBe('8080');
    expect(gateway.env?.find((e) => e.name === 'OPS_PORT')?.value).toBe('8083');
    // Its supervisor restarts a crashed or hung listener inside the container: no probe may restart it.
    expect(listener.command).toEqual(['node', 'dist/supervise.js']);
    expect(listener.livenessProbe).toBeUndefined();
    expect(listener.readinessProbe).toBeUndefined();
    expect(listener.ports?.[0]?.containerPort).toBe(8081);
    expect(listener.env?.find((e) => e.name === 'LISTENER_PORT')?.value).toBe('8081');
  });

  it('have a grace period that holds preStop + the whole drain (SHUTDOWN_TIMEOUT_MS, which includes DRAIN_DELAY_MS)', () => {
    const preStop = gateway.lifecycle?.preStop?.exec?.command;
    expect(preStop?.[0]).toBe('sleep');
    const sleepSeconds = Number(preStop?.[1]);
    const shutdownMs = Number(config.SHUTDOWN_TIMEOUT_MS);
    expect(Number(config.DRAIN_DELAY_MS)).toBeLessThan(shutdownMs);
    expect(spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThanOrEqual(sleepSeconds * 1000 + shutdownMs);
  });

  it('refuse to render a grace period too short for the drain, or a drain delay past the deadline', () => {
    expect(() => helmTemplate(['--set', 'gateway.terminationGracePeriodSeconds=20'])).toThrow(/terminationGracePeriodSeconds/);
    expect(() => helmTemplate(['--set-string', 'gateway.config.DRAIN_DELAY_MS=30000'])).toThrow(/DRAIN_DELAY_MS/);
    expect(() => helmTemplate(['--set-string', 'gateway.config.SHUTDOWN_TIMEOUT_MS=40000'])).toThrow(/terminationGracePeriodSeconds/);
  });

  // Before: rendered, and every gateway then fell back to Postgres LISTEN between two heartbeats.
  it('refuse to render a listener heartbeat interval the gateways would time out between', () => {
    expect(() => helmTemplate(['--set-string', 'notifyListener.config.LISTENER_HEARTBEAT_INTERVAL_MS=1000'])).toThrow(/LISTENER_HEARTBEAT_INTERVAL_MS \(1000\) must be at most half of gateway.config.HEARTBEAT_TIMEOUT_MS \(1000\)/);
    expect(() => helmTemplate(['--set-string', 'gateway.config.HEARTBEAT_TIMEOUT_MS=400'])).toThrow(/HEARTBEAT_TIMEOUT_MS \(400\)/);
    expect(() => helmTemplate(['--set-string', 'gateway.config.HEARTBEAT_TIMEOUT_MS=500'])).not.toThrow();
  });

  it('roll when their ConfigMaps or Secret change (checksum annotations)', () => {
    const annotations = (d: Manifest) => (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
    const before = annotations(deployment);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['checksum/config', 'checksum/listener-config', 'checksum/secret']));
    const changed = (args: string[]) => annotations(find(helmTemplate(args), 'Deployment', 'matchcast-gateway'));
    expect(changed(['--set-string', 'gateway.config.WS_MAX_CONNECTIONS=500'])['checksum/config']).not.toBe(before['checksum/config']);
    expect(changed(['--set-string', 'notifyListener.config.LOG_LEVEL=debug'])['checksum/listener-config']).not.toBe(before['checksum/listener-config']);
    expect(changed(['--set', 'secrets.authJwtSecret=s3cret'])['checksum/secret']).not.toBe(before['checksum/secret']);
  });

  it('run as non-root with a read-only root filesystem', () => {
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    for (const c of [gateway, listener]) expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('are covered by a PodDisruptionBudget and reachable through the gateway Service and NetworkPolicy', () => {
    const pdb = find(manifests, 'PodDisruptionBudget', 'matchcast-gateway');
    expect((pdb.spec as { selector: unknown }).selector).toEqual((deployment.spec as { selector: unknown }).selector);
    const service = find(manifests, 'Service', 'matchcast-gateway');
    expect((service.spec as { ports: unknown[] }).ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    const policy = find(manifests, 'NetworkPolicy', 'matchcast-gateway');
    const ports = (policy.spec as { ingress: { ports: { port: number }[] }[] }).ingress.flatMap((rule) => rule.ports.map((p) => p.port));
    expect(ports).toEqual([8080, 8083, 8081]);
  });
});

describeWithHelm('migrations', () => {
  it('run as an init container (retrying until the in-chart PostgreSQL answers) by default, with no Job', () => {
    const manifests = helmTemplate();
    expect(manifests.filter((m) => m.kind === 'Job')).toEqual([]);
    for (const name of ['matchcast-gateway', 'matchcast-crawler', 'matchcast-api', 'matchcast-notifier']) {
      // (The gateway pod's native sidecar, an init container that keeps running, is not one of them.)
      const init = (podSpec(find(manifests, 'Deployment', name)).initContainers ?? []).filter((c) => c.restartPolicy !== 'Always');
      // The login users first (in-chart PostgreSQL only), then the migrations as the schema owner.
      expect(init.map((c) => c.name)).toEqual(['db-users', 'migrate']);
      expect(init[0]!.env?.find((e) => e.name === 'DB_USERS_SQL')?.value).toBe(readFileSync(join(CHART, 'files', 'db-users.sql'), 'utf8'));
      expect(init[1]!.command!.join(' ')).toContain('node node_modules/@matchcast/db/dist/cli.js');
      expect(init[1]!.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'DATABASE_URL' });
    }
  });

  it('run as a pre-install,pre-upgrade Job hook with an external database, with a hook-scoped Secret', () => {
    const manifests = helmTemplate(['-f', join(CHART, 'ci', 'no-redis-values.yaml')]);
    const job = find(manifests, 'Job', 'matchcast-migrate');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const secret = find(manifests, 'Secret', 'matchcast-migrate');
    expect(secret.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(Number(secret.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations?.['helm.sh/hook-weight']));
    const migrate = container(job, 'migrate');
    expect(migrate.command).toEqual(['node', 'node_modules/@matchcast/db/dist/cli.js']);
    expect(migrate.env?.[0]?.valueFrom?.secretKeyRef?.name).toBe('matchcast-migrate');
    expect(podSpec(find(manifests, 'Deployment', 'matchcast-gateway')).initContainers).toBeUndefined();
  });

  it('read an existing Secret directly when one is given', () => {
    const manifests = helmTemplate(['-f', join(CHART, 'ci', 'production-values.yaml')]);
    expect(container(find(manifests, 'Job', 'matchcast-migrate'), 'migrate').env?.[0]?.valueFrom?.secretKeyRef?.name).toBe('matchcast-connections');
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
  });
});

describeWithHelm('optional parts', () => {
  it('without Redis: no sidecar, no REDIS_URL, no Redis objects (gateways LISTEN themselves)', () => {
    const manifests = helmTemplate(['-f', join(CHART, 'ci', 'no-redis-values.yaml')]);
    const deployment = find(manifests, 'Deployment', 'matchcast-gateway');
    expect(podSpec(deployment).containers.map((c) => c.name)).toEqual(['gateway']);
    expect(container(deployment, 'gateway').env?.map((e) => e.name)).not.toContain('REDIS_URL');
    expect(manifests.filter((m) => /redis|postgresql|notify-listener/.test(m.metadata.name))).toEqual([]);
  });

  it('HPA replaces the fixed replica count; ServiceMonitors only with metrics and serviceMonitor both on', () => {
    const production = helmTemplate(['-f', join(CHART, 'ci', 'production-values.yaml')]);
    const hpa = find(production, 'HorizontalPodAutoscaler', 'matchcast-gateway');
    expect((hpa.spec as { scaleTargetRef: unknown }).scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'matchcast-gateway' });
    expect((find(production, 'Deployment', 'matchcast-gateway').spec as { replicas?: number }).replicas).toBeUndefined();
    expect(production.filter((m) => m.kind === 'ServiceMonitor').map((m) => m.metadata.name).sort()).toEqual(['matchcast-api', 'matchcast-crawler', 'matchcast-gateway', 'matchcast-notifier']);
    const metricsOnly = helmTemplate(['--set', 'metrics.enabled=true']);
    expect(metricsOnly.filter((m) => m.kind === 'ServiceMonitor')).toEqual([]);
    expect(helmTemplate(['--set', 'metrics.serviceMonitor.enabled=true']).filter((m) => m.kind === 'ServiceMonitor')).toEqual([]);
  });

  it('chaos runner RBAC: pods get/list/delete, deployments/scale get/patch, nothing cluster-wide', () => {
    const manifests = helmTemplate(['--set', 'chaos.enabled=true']);
    const role = find(manifests, 'Role', 'matchcast-chaos');
    const rules = role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const verbs = (resource: string) => rules.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs);
    expect(verbs('pods')).toEqual(expect.arrayContaining(['get', 'list', 'delete']));
    expect(verbs('deployments/scale')).toEqual(expect.arrayContaining(['get', 'patch']));
    expect(verbs('secrets')).toEqual([]);
    const binding = find(manifests, 'RoleBinding', 'matchcast-chaos');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'matchcast-chaos', namespace: 'matchcast' }]);
    expect(manifests.some((m) => m.kind.startsWith('Cluster'))).toBe(false);
    expect(helmTemplate().some((m) => m.metadata.name === 'matchcast-chaos')).toBe(false);
  });

  it('helm test pod subscribes over WebSocket with the shipped script', () => {
    const manifests = helmTemplate();
    const pod = find(manifests, 'Pod', 'matchcast-test-websocket');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const c = container(pod, 'websocket');
    expect(c.command).toEqual(['node', '-e']);
    expect(c.args).toEqual([readFileSync(join(CHART, 'files', 'helm-test-websocket.js'), 'utf8')]);
    expect(c.env?.find((e) => e.name === 'GATEWAY_WS_URL')?.value).toBe('ws://matchcast-gateway:8080/ws');
  });

  it('helm test pod asks the API for an unread count through its Service, labelled as a client the API\'s policy admits', () => {
    const manifests = helmTemplate();
    const pod = find(manifests, 'Pod', 'matchcast-test-api');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(pod.metadata.labels?.['matchcast-client']).toBe('true');
    const c = container(pod, 'api');
    expect(c.image).toBe('matchcast-api:0.1.0');
    expect(c.args).toEqual([readFileSync(join(CHART, 'files', 'helm-test-api.js'), 'utf8')]);
    expect(c.env?.find((e) => e.name === 'API_URL')?.value).toBe('http://matchcast-api:8090');
    expect(c.env?.find((e) => e.name === 'AUTH_JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'AUTH_JWT_SECRET', optional: true });
    expect(helmTemplate(['--set', 'api.enabled=false']).some((m) => m.metadata.name === 'matchcast-test-api')).toBe(false);
  });
});

/** Every string value in a manifest, depth first. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const secretData = (manifests: Manifest[], name: string) => find(manifests, 'Secret', name).stringData as Record<string, string>;
const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);

describeWithHelm('credentials', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = helmTemplate(['--set', 'chaos.enabled=true']);
  });

  it('no fixed password with the default values: every password is random, different per install, and only in Secrets', () => {
    const again = helmTemplate(['--set', 'chaos.enabled=true']);
    const passwords = [
      ...Object.entries(secretData(manifests, 'matchcast-postgresql')).filter(([k]) => k.endsWith('PASSWORD')).map(([, v]) => v),
      ...Object.values(secretData(manifests, 'matchcast-redis')),
    ];
    // PostgreSQL: the bootstrap superuser and five login users; Redis: four ACL users (gateway, listener, API, chaos).
    expect(passwords).toHaveLength(10);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(new Set(passwords).size).toBe(passwords.length);
    expect(secretData(again, 'matchcast-postgresql').POSTGRES_PASSWORD).not.toBe(secretData(manifests, 'matchcast-postgresql').POSTGRES_PASSWORD);
    const outsideSecrets = manifests.filter((m) => m.kind !== 'Secret').flatMap(strings).join('\n');
    for (const password of passwords) expect(outsideSecrets).not.toContain(password);
    expect(manifests.flatMap(strings).filter((v) => /:\/\/matchcast:matchcast@|PASSWORD=matchcast\b/.test(v))).toEqual([]);
  });

  it('every service gets its own PostgreSQL and Redis user, whose passwords match the backing Secrets', () => {
    const urls = secretData(manifests, 'matchcast');
    const pg = secretData(manifests, 'matchcast-postgresql');
    const redis = secretData(manifests, 'matchcast-redis');
    const parse = (key: string) => new URL(urls[key]!);
    expect([parse('DATABASE_URL').username, parse('DATABASE_URL').password]).toEqual(['matchcast', pg.POSTGRES_PASSWORD]);
    expect([parse('GATEWAY_DATABASE_URL').username, parse('GATEWAY_DATABASE_URL').password]).toEqual(['matchcast_gateway_login', pg.GATEWAY_PASSWORD]);
    expect([parse('LISTENER_DATABASE_URL').username, parse('LISTENER_DATABASE_URL').password]).toEqual(['matchcast_listener_login', pg.LISTENER_PASSWORD]);
    expect([parse('CRAWLER_DATABASE_URL').username, parse('CRAWLER_DATABASE_URL').password]).toEqual(['matchcast_crawler_login', pg.CRAWLER_PASSWORD]);
    expect([parse('API_DATABASE_URL').username, parse('API_DATABASE_URL').password]).toEqual(['matchcast_api_login', pg.API_PASSWORD]);
    expect([parse('NOTIFIER_DATABASE_URL').username, parse('NOTIFIER_DATABASE_URL').password]).toEqual(['matchcast_notifier_login', pg.NOTIFIER_PASSWORD]);
    expect([parse('GATEWAY_REDIS_URL').username, parse('GATEWAY_REDIS_URL').password]).toEqual(['matchcast-gateway', redis.REDIS_GATEWAY_PASSWORD]);
    expect([parse('LISTENER_REDIS_URL').username, parse('LISTENER_REDIS_URL').password]).toEqual(['matchcast-listener', redis.REDIS_LISTENER_PASSWORD]);
    expect([parse('CHAOS_REDIS_URL').username, parse('CHAOS_REDIS_URL').password]).toEqual(['matchcast-chaos', redis.REDIS_CHAOS_PASSWORD]);
    expect([parse('API_REDIS_URL').username, parse('API_REDIS_URL').password]).toEqual(['matchcast-api', redis.REDIS_API_PASSWORD]);
    const crawler = container(find(manifests, 'Deployment', 'matchcast-crawler'), 'crawler');
    expect(env(crawler, 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'CRAWLER_DATABASE_URL' });
    expect(env(crawler, 'REDIS_URL')).toBeUndefined();
  });

  it('every connection variable and key of every container comes from a Secret, never a literal', () => {
    for (const workload of manifests.filter((m) => ['Deployment', 'StatefulSet', 'Job'].includes(m.kind))) {
      for (const c of [...podSpec(workload).containers, ...(podSpec(workload).initContainers ?? [])]) {
        for (const e of c.env ?? []) {
          if (/URL$|PASSWORD$|SECRET$|_KEYS?$/.test(e.name)) expect([workload.metadata.name, c.name, e.name, e.value]).toEqual([workload.metadata.name, c.name, e.name, undefined]);
        }
      }
    }
  });

  it('the in-chart Redis loads the shipped ACL with the passwords from its Secret, and probes as the PING-only user', () => {
    const redis = container(find(manifests, 'Deployment', 'matchcast-redis'), 'redis');
    expect(redis.command).toEqual(['sh', '/etc/matchcast/redis-start.sh']);
    expect(redis.envFrom).toEqual([{ secretRef: { name: 'matchcast-redis' } }]);
    const config = find(manifests, 'ConfigMap', 'matchcast-redis').data as Record<string, string>;
    expect(config['redis-users.acl']).toBe(readFileSync(join(CHART, 'files', 'redis-users.acl'), 'utf8'));
    expect(config['redis-start.sh']).toBe(readFileSync(join(CHART, 'files', 'redis-start.sh'), 'utf8'));
    expect(config['redis-users.acl']).toMatch(/^user default off resetpass /m);
    expect(JSON.stringify((redis as { readinessProbe?: unknown }).readinessProbe)).toContain('--user matchcast-probe');
    const annotations = (find(manifests, 'Deployment', 'matchcast-redis').spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
    expect(Object.keys(annotations)).toEqual(expect.arrayContaining(['checksum/config', 'checksum/secret']));
    // No chaos user without chaos, no API user without the API.
    expect(Object.keys(secretData(helmTemplate(), 'matchcast-redis'))).toEqual(['REDIS_GATEWAY_PASSWORD', 'REDIS_LISTENER_PASSWORD', 'REDIS_API_PASSWORD']);
    expect(Object.keys(secretData(helmTemplate(['--set', 'api.enabled=false']), 'matchcast-redis'))).toEqual(['REDIS_GATEWAY_PASSWORD', 'REDIS_LISTENER_PASSWORD']);
  });

  it('uses passwords given in values; refuses an existing Secret with the in-chart databases unless they are given', () => {
    const given = helmTemplate(['--set', 'postgresql.auth.password=admin-pw', '--set', 'redis.auth.gatewayPassword=gw-pw']);
    expect(secretData(given, 'matchcast').DATABASE_URL).toContain('matchcast:admin-pw@');
    expect(secretData(given, 'matchcast').GATEWAY_REDIS_URL).toBe('redis://matchcast-gateway:gw-pw@matchcast-redis:6379');
    expect(() => helmTemplate(['--set', 'secrets.existingSecret=mine'])).toThrow(/postgresql\.auth\.password/);
    expect(() => helmTemplate(['--set', 'redis.auth.gatewayPassword=has space'])).toThrow(/gatewayPassword/);
  });

  it('external databases: per-service URLs when given, else the shared one (no least privilege)', () => {
    const external = helmTemplate([
      '--set', 'postgresql.enabled=false', '--set', 'redis.enabled=false', '--set', 'externalRedis.enabled=true',
      '--set', 'externalDatabase.url=postgres://owner:o@db:5432/m', '--set', 'externalDatabase.gatewayUrl=postgres://gw:g@db:5432/m',
      '--set', 'externalRedis.url=rediss://shared:s@redis:6380', '--set', 'externalRedis.notifyListenerUrl=rediss://matchcast-listener:l@redis:6380',
    ]);
    const urls = secretData(external, 'matchcast');
    expect(urls).toMatchObject({
      DATABASE_URL: 'postgres://owner:o@db:5432/m',
      GATEWAY_DATABASE_URL: 'postgres://gw:g@db:5432/m',
      CRAWLER_DATABASE_URL: 'postgres://owner:o@db:5432/m',
      GATEWAY_REDIS_URL: 'rediss://shared:s@redis:6380',
      LISTENER_REDIS_URL: 'rediss://matchcast-listener:l@redis:6380',
    });
    expect(external.filter((m) => /redis|postgresql/.test(m.metadata.name))).toEqual([]);
  });
});

describeWithHelm('network policies', () => {
  type Peer = { podSelector?: { matchLabels: Record<string, string> } };
  const sources = (manifests: Manifest[], name: string) => {
    const rules = (find(manifests, 'NetworkPolicy', name).spec as { ingress: { from?: Peer[]; ports: { port: number }[] }[] }).ingress;
    return rules.flatMap((rule) => (rule.from ?? [{}]).map((peer) => [peer.podSelector?.matchLabels['app.kubernetes.io/component'] ?? 'ANY', rule.ports.map((p) => p.port)]));
  };

  it('only the gateway pods (gateway + notify-listener sidecar) and the API (presence) reach Redis; the chaos runner only with chaos.enabled', () => {
    expect(sources(helmTemplate(), 'matchcast-redis')).toEqual([['gateway', [6379]], ['api', [6379]]]);
    expect(sources(helmTemplate(['--set', 'api.enabled=false']), 'matchcast-redis')).toEqual([['gateway', [6379]]]);
    expect(sources(helmTemplate(['--set', 'chaos.enabled=true']), 'matchcast-redis')).toEqual([['gateway', [6379]], ['api', [6379]], ['chaos', [6379]]]);
    const policy = find(helmTemplate(), 'NetworkPolicy', 'matchcast-redis');
    expect((policy.spec as { podSelector: unknown }).podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'matchcast', 'app.kubernetes.io/instance': 'matchcast', 'app.kubernetes.io/component': 'redis' } });
  });

  it('only the services that use PostgreSQL (and the migrations) reach it', () => {
    expect(sources(helmTemplate(), 'matchcast-postgresql')).toEqual([['gateway', [5432]], ['crawler', [5432]], ['api', [5432]], ['notifier', [5432]], ['migrate', [5432]]]);
    expect(sources(helmTemplate(['--set', 'api.enabled=false', '--set', 'notifier.enabled=false']), 'matchcast-postgresql')).toEqual([['gateway', [5432]], ['crawler', [5432]], ['migrate', [5432]]]);
    for (const [, peers] of [sources(helmTemplate(), 'matchcast-postgresql')]) expect(peers).not.toContain('ANY');
  });

  it('with locked-down egress the crawler and notifier may not reach Redis, the gateway pods and the API (presence) may', () => {
    const manifests = helmTemplate(['--set', 'networkPolicy.allowExternalEgress=false']);
    const egressTo = (name: string) =>
      ((find(manifests, 'NetworkPolicy', name).spec as { egress: { to?: Peer[] }[] }).egress)
        .flatMap((rule) => (rule.to ?? []).map((peer) => peer.podSelector?.matchLabels['app.kubernetes.io/component']));
    expect(egressTo('matchcast-crawler')).toEqual(['postgresql']);
    expect(egressTo('matchcast-api')).toEqual(['postgresql', 'redis']);
    expect(egressTo('matchcast-notifier')).toEqual(['postgresql']);
    expect(egressTo('matchcast-gateway')).toEqual(['postgresql', 'redis']);
  });
});
