/**
 * The gateway pod as an operator runs it (issue 15): the ops port (probes and scrapes on their
 * own port, the client port for clients only), and NetworkPolicies that let the ingress
 * controller reach the client port and Prometheus the ops ports. Rendered by a real helm.
 */
import { join } from 'node:path';
import { toolsUnavailableReason } from './support/k8s-tools';
import { CHART, container, find, helmTemplate, type Manifest } from './support/manifests';

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
