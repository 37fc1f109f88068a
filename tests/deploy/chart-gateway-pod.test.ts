/**
 * The gateway pod as an operator runs it (issue 15): the ops port (probes and scrapes on their
 * own port, the client port for clients only), NetworkPolicies that let the ingress controller
 * reach the client port and Prometheus the ops ports, and where the notify-listener runs (a
 * crash of it must never cost a gateway its Service endpoints). Rendered by a real helm.
 */
import { join } from 'node:path';
import { toolsUnavailableReason } from './support/k8s-tools';
import { CHART, container, find, helmTemplate, podSpec, type Manifest, type PodSpec } from './support/manifests';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`gateway pod render checks skipped: ${reason}`);

type Peer = { namespaceSelector?: unknown; podSelector?: unknown };
type Rule = { ports: { port: number }[]; from?: Peer[] };
const rules = (manifests: Manifest[]) => (find(manifests, 'NetworkPolicy', 'matchcast-gateway').spec as { ingress: Rule[] }).ingress;
const ruleFor = (manifests: Manifest[], port: number) => rules(manifests).find((rule) => rule.ports.some((p) => p.port === port));

describeWithHelm('gateway ops port', () => {
  const manifests = helmTemplate(['-f', join(CHART, 'ci', 'production-values.yaml')]);

  it('probes, the scrape annotation, the metrics Service and the ServiceMonitor all use the ops port; the client Service does not', () => {
    const deployment = find(manifests, 'Deployment', 'matchcast-gateway');
    const gateway = container(deployment, 'gateway');
    for (const probe of [gateway.livenessProbe, gateway.readinessProbe, gateway.startupProbe]) expect(probe?.httpGet?.port).toBe('ops');
    const annotations = (deployment.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
    expect(annotations['prometheus.io/port']).toBe('8083');
    const metricsPorts = (find(manifests, 'Service', 'matchcast-metrics').spec as { ports: { name: string; targetPort: string }[] }).ports;
    expect(metricsPorts.map((p) => p.targetPort)).toEqual(['ops', 'listener']);
    const endpoints = (find(manifests, 'ServiceMonitor', 'matchcast-gateway').spec as { endpoints: { port: string; path: string }[] }).endpoints;
    expect(endpoints.map((e) => `${e.port}${e.path}`)).toEqual(['ops/metrics', 'listener/metrics']);
    const clientPorts = (find(manifests, 'Service', 'matchcast-gateway').spec as { ports: { targetPort: string }[] }).ports;
    expect(clientPorts.map((p) => p.targetPort)).toEqual(['http']);
  });

  // Before: rendered; in the pod the second process to bind the port died with EADDRINUSE and
  // crash-looped (one pod network), naming no value.
  it('refuses two of the gateway pod\'s ports on one number (client, ops, and the listener beside them)', () => {
    expect(() => helmTemplate(['--set', 'notifyListener.containerPorts.http=8083'])).toThrow(/notifyListener.containerPorts.http \(8083\) must differ from gateway.containerPorts.ops/);
    expect(() => helmTemplate(['--set', 'gateway.containerPorts.ops=8080'])).toThrow(/gateway.containerPorts.ops \(8080\) must differ from gateway.containerPorts.http/);
    expect(() => helmTemplate(['--set', 'api.containerPorts.ops=8090'])).toThrow(/api.containerPorts.ops \(8090\) must differ from api.containerPorts.http/);
    // A standalone listener has its own pod.
    expect(() => helmTemplate(['--set', 'notifyListener.placement=standalone', '--set', 'notifyListener.containerPorts.http=8083'])).not.toThrow();
    // Nor does a listener that does not run (disabled, or no Redis): its port binds nothing (before: refused).
    expect(() => helmTemplate(['--set', 'notifyListener.enabled=false', '--set', 'notifyListener.containerPorts.http=8083'])).not.toThrow();
  });

  it('a moved ops port moves everything with it', () => {
    const moved = helmTemplate(['--set', 'gateway.containerPorts.ops=9100']);
    const gateway = container(find(moved, 'Deployment', 'matchcast-gateway'), 'gateway');
    expect(gateway.env?.find((e) => e.name === 'OPS_PORT')?.value).toBe('9100');
    expect(gateway.ports?.find((p) => p.name === 'ops')?.containerPort).toBe(9100);
    expect(ruleFor(moved, 9100)).toBeDefined();
  });
});

describeWithHelm('gateway NetworkPolicy', () => {
  it('restricted clients: the ingress controller (by namespace and pod selector) and labelled pods reach the client port, not the ops port', () => {
    const manifests = helmTemplate(['--set', 'networkPolicy.allowExternal=false']);
    const client = ruleFor(manifests, 8080)!;
    expect(client.ports.map((p) => p.port)).toEqual([8080]);
    expect(client.from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
    });
    expect(client.from).toContainEqual({ podSelector: { matchLabels: { 'matchcast-client': 'true' } } });
  });

  it('Prometheus reaches the gateway\'s and the sidecar\'s ops ports from the namespace the values name', () => {
    const manifests = helmTemplate(['--set', 'networkPolicy.metricsNamespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring']);
    const ops = ruleFor(manifests, 8083)!;
    expect(ops.ports.map((p) => p.port)).toEqual([8083, 8081]);
    expect(ops.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    // Open to any namespace by default (kubelet probes never need a rule).
    expect(ruleFor(helmTemplate(), 8083)!.from).toBeUndefined();
  });
});

describeWithHelm('notify-listener placement', () => {
  const gatewayPod = (manifests: Manifest[]) => podSpec(find(manifests, 'Deployment', 'matchcast-gateway'));
  const listenerOf = (spec: PodSpec) => [...spec.containers, ...(spec.initContainers ?? [])].find((c) => c.name === 'notify-listener');

  it('nativeSidecar (the default): an init container that keeps running, after the migrations, under its in-container supervisor, with no probe that could restart it', () => {
    const spec = gatewayPod(helmTemplate());
    expect(spec.containers.map((c) => c.name)).toEqual(['gateway']);
    const listener = spec.initContainers!.at(-1)!;
    expect(listener).toMatchObject({ name: 'notify-listener', restartPolicy: 'Always', command: ['node', 'dist/supervise.js'] });
    expect([listener.livenessProbe, listener.readinessProbe, listener.startupProbe]).toEqual([undefined, undefined, undefined]);
  });

  it('on a cluster older than 1.29 the native sidecar falls back to a plain second container (the same container)', () => {
    const old = gatewayPod(helmTemplate(['--kube-version', '1.28.0']));
    const native = gatewayPod(helmTemplate());
    expect(old.containers.map((c) => c.name)).toEqual(['gateway', 'notify-listener']);
    expect(old.initContainers?.map((c) => c.name)).toEqual(['db-users', 'migrate']);
    const { restartPolicy, ...rest } = listenerOf(native)!;
    expect(restartPolicy).toBe('Always');
    expect(listenerOf(old)).toEqual(rest);
  });

  it('sidecar: a plain second container, supervised, no probes', () => {
    const spec = gatewayPod(helmTemplate(['--set', 'notifyListener.placement=sidecar']));
    expect(spec.containers.map((c) => c.name)).toEqual(['gateway', 'notify-listener']);
    expect(listenerOf(spec)).toMatchObject({ command: ['node', 'dist/supervise.js'] });
    expect(listenerOf(spec)!.livenessProbe).toBeUndefined();
  });

  it('standalone: no listener in the gateway pods; its own Deployment (2 replicas, probed, rolling one at a time), PDB, Redis and PostgreSQL access, scraping', () => {
    const manifests = helmTemplate(['--set', 'notifyListener.placement=standalone', '--set', 'metrics.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true']);
    const spec = gatewayPod(manifests);
    expect(listenerOf(spec)).toBeUndefined();
    const annotations = (find(manifests, 'Deployment', 'matchcast-gateway').spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
    expect(annotations['checksum/listener-config']).toBeUndefined();

    const deployment = find(manifests, 'Deployment', 'matchcast-notify-listener');
    expect(deployment.spec).toMatchObject({ replicas: 2, strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } });
    const listener = container(deployment, 'notify-listener');
    expect(listener.command).toBeUndefined(); // the image's own `node dist/main.js`
    expect(listener.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'listener' });
    expect(listener.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'listener' });
    expect(listener.env?.find((e) => e.name === 'LISTENER_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(find(manifests, 'PodDisruptionBudget', 'matchcast-notify-listener').spec).toMatchObject({ maxUnavailable: 1 });

    const from = (name: string) => (find(manifests, 'NetworkPolicy', name).spec as { ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] }).ingress[0]!.from;
    for (const store of ['matchcast-redis', 'matchcast-postgresql']) {
      expect(from(store).map((peer) => peer.podSelector.matchLabels['app.kubernetes.io/component'])).toContain('notify-listener');
    }
    // The gateway pods no longer carry the listener's port; its own Service and ServiceMonitor do.
    expect(rules(manifests).flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([8080, 8083]);
    expect((find(manifests, 'Service', 'matchcast-metrics').spec as { ports: { name: string }[] }).ports.map((p) => p.name)).toEqual(['ops']);
    expect((find(manifests, 'ServiceMonitor', 'matchcast-notify-listener').spec as { endpoints: { port: string }[] }).endpoints[0]!.port).toBe('listener');
    expect(find(manifests, 'NetworkPolicy', 'matchcast-notify-listener')).toBeDefined();
  });

  it('refuses an unknown placement', () => {
    expect(() => helmTemplate(['--set', 'notifyListener.placement=daemonset'])).toThrow(/placement/);
  });
});

describeWithHelm('gateway rollouts and scaling', () => {
  it('rolls out with every new pod first (maxSurge 100%, maxUnavailable 0) and minReadySeconds; clients move after preStop + DRAIN_DELAY_MS', () => {
    const manifests = helmTemplate();
    const deployment = find(manifests, 'Deployment', 'matchcast-gateway');
    expect(deployment.spec).toMatchObject({ minReadySeconds: 10, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } } });
    // The old pods are deleted as the new ones become available; their clients are moved only
    // preStop + DRAIN_DELAY_MS later, by when the other old pods have left the Service too.
    const preStop = Number(container(deployment, 'gateway').lifecycle?.preStop?.exec?.command[1]);
    const drainMs = Number((find(manifests, 'ConfigMap', 'matchcast-gateway').data as Record<string, string>).DRAIN_DELAY_MS);
    expect(preStop * 1000 + drainMs).toBeGreaterThanOrEqual(10_000);
  });

  it('the HPA scales on open connections per pod when targetConnectionsPerPod is set (a Pods metric from the Prometheus adapter), not otherwise', () => {
    const metrics = (args: string[]) =>
      (find(helmTemplate(['--set', 'gateway.autoscaling.enabled=true', ...args]), 'HorizontalPodAutoscaler', 'matchcast-gateway').spec as { metrics: { type: string }[] }).metrics;
    expect(metrics([]).map((m) => m.type)).toEqual(['Resource']);
    expect(metrics(['--set', 'gateway.autoscaling.targetConnectionsPerPod=7000'])).toContainEqual({
      type: 'Pods',
      pods: { metric: { name: 'matchcast_gateway_connections' }, target: { type: 'AverageValue', averageValue: '7000' } },
    });
  });

  it('readiness headroom is wired: READY_MAX_CONNECTIONS_RATIO in the gateway ConfigMap', () => {
    expect((find(helmTemplate(), 'ConfigMap', 'matchcast-gateway').data as Record<string, string>).READY_MAX_CONNECTIONS_RATIO).toBe('0.9');
  });
});
