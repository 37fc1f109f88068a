/**
 * Capacity settings an operator relies on, in the rendered chart (defaults and every CI values
 * file) and in every kustomize build: each container's memory request equals its limit (no
 * overcommitted pod is the first one the kubelet evicts or the OOM killer picks), and liveness
 * probes tolerate a busy event loop (a reconnect storm or a catch-up can block a Node process
 * for seconds; a liveness restart then moves every client again) while staying apart from
 * readiness.
 */
import { basename, join } from 'node:path';
import { toolsUnavailableReason } from './support/k8s-tools';
import { type Container, find, helmTemplate, kustomizeBuild, type Manifest, podSpec, REPO, schemaErrors } from './support/manifests';
import { CI_VALUES } from './support/values';

const reason = toolsUnavailableReason();
const describeWithTools = reason ? describe.skip : describe;
if (reason) console.warn(`capacity checks skipped: ${reason}`);

/** Liveness may fail only after this long without an answer. */
const MIN_LIVENESS_TOLERANCE_SECONDS = 60;
const MIN_LIVENESS_TIMEOUT_SECONDS = 5;

type Probe = { httpGet?: { path: string }; periodSeconds?: number; timeoutSeconds?: number; failureThreshold?: number };
type ProbedContainer = Container & { livenessProbe?: Probe; readinessProbe?: Probe };

const RENDERS: [string, () => Manifest[]][] = [
  ['chart defaults (+ chaos)', () => helmTemplate(['--set', 'chaos.enabled=true'])],
  ...['sidecar', 'standalone'].map((placement): [string, () => Manifest[]] => [`chart notifyListener.placement=${placement}`, () => helmTemplate(['--set', `notifyListener.placement=${placement}`])]),
  ...CI_VALUES.map((file): [string, () => Manifest[]] => [`chart ${basename(file)}`, () => helmTemplate(['-f', file])]),
  ...['base', 'overlays/dev', 'overlays/prod'].map((dir): [string, () => Manifest[]] => [`k8s/${dir}`, () => kustomizeBuild(join(REPO, 'k8s', dir))]),
];

function containers(manifests: Manifest[]): [string, ProbedContainer][] {
  return manifests
    .filter((m) => ['Deployment', 'StatefulSet', 'Job', 'Pod'].includes(m.kind))
    .flatMap((m) => [...podSpec(m).containers, ...(podSpec(m).initContainers ?? [])].map((c): [string, ProbedContainer] => [`${m.kind}/${m.metadata.name}/${c.name}`, c as ProbedContainer]));
}

/** Problems with a liveness probe: too impatient, or the same check as readiness. */
export function livenessProblems(c: ProbedContainer): string[] {
  const live = c.livenessProbe;
  if (!live) return [];
  const problems: string[] = [];
  const period = live.periodSeconds ?? 10;
  const failures = live.failureThreshold ?? 3;
  const timeout = live.timeoutSeconds ?? 1;
  if (timeout < MIN_LIVENESS_TIMEOUT_SECONDS) problems.push(`timeoutSeconds ${timeout} < ${MIN_LIVENESS_TIMEOUT_SECONDS}`);
  if (period * failures < MIN_LIVENESS_TOLERANCE_SECONDS) problems.push(`restarts after ${period * failures} s without an answer (< ${MIN_LIVENESS_TOLERANCE_SECONDS})`);
  if (c.readinessProbe?.httpGet && live.httpGet && c.readinessProbe.httpGet.path === live.httpGet.path) problems.push(`liveness and readiness both probe ${live.httpGet.path}`);
  return problems;
}

describeWithTools.each(RENDERS)('%s', (_name, render) => {
  let all: [string, ProbedContainer][];
  beforeAll(() => {
    all = containers(render());
  });

  it('every container has a memory request equal to its memory limit', () => {
    const memory = (c: Container) => (c as { resources?: { requests?: { memory?: string }; limits?: { memory?: string } } }).resources;
    const unequal = all
      .filter(([, c]) => !memory(c)?.limits?.memory || memory(c)?.requests?.memory !== memory(c)?.limits?.memory)
      .map(([id, c]) => `${id}: request ${memory(c)?.requests?.memory} limit ${memory(c)?.limits?.memory}`);
    expect(all.length).toBeGreaterThan(3);
    expect(unequal).toEqual([]);
  });

  it(`liveness probes allow ${MIN_LIVENESS_TOLERANCE_SECONDS} s of a busy event loop and differ from readiness`, () => {
    const probed = all.filter(([, c]) => c.livenessProbe);
    expect(probed.length).toBeGreaterThan(0);
    expect(probed.flatMap(([id, c]) => livenessProblems(c).map((p) => `${id}: ${p}`))).toEqual([]);
  });
});

describe('the liveness check itself', () => {
  it('flags an impatient probe and one that repeats readiness', () => {
    const probe = { httpGet: { path: '/healthz' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 };
    expect(livenessProblems({ name: 'x', livenessProbe: probe, readinessProbe: { httpGet: { path: '/healthz' } } } as ProbedContainer)).toEqual([
      'timeoutSeconds 3 < 5',
      'restarts after 30 s without an answer (< 60)',
      'liveness and readiness both probe /healthz',
    ]);
    expect(livenessProblems({ name: 'x', livenessProbe: { ...probe, timeoutSeconds: 5, failureThreshold: 6 } } as ProbedContainer)).toEqual([]);
  });
});

describeWithTools('high connection counts', () => {
  it('the documented somaxconn setting renders a valid gateway pod with the sysctl and a matching backlog', () => {
    const manifests = helmTemplate([
      '--set-json', 'podSecurityContext.sysctls=[{"name":"net.core.somaxconn","value":"16384"}]',
      '--set-string', 'gateway.config.LISTEN_BACKLOG=16384',
    ]);
    const gateway = find(manifests, 'Deployment', 'matchcast-gateway');
    expect((podSpec(gateway) as { securityContext?: { sysctls?: unknown; runAsNonRoot?: boolean } }).securityContext).toMatchObject({
      runAsNonRoot: true,
      sysctls: [{ name: 'net.core.somaxconn', value: '16384' }],
    });
    expect((find(manifests, 'ConfigMap', 'matchcast-gateway').data as Record<string, string>).LISTEN_BACKLOG).toBe('16384');
    expect(schemaErrors(gateway)).toEqual([]);
  });
});
