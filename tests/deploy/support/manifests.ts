/**
 * Rendering and validation helpers for the deploy checks: real `helm template` and
 * `kubectl kustomize` (see k8s-tools.ts), YAML parsing, and Kubernetes schema validation with
 * kubernetes-models (the OpenAPI schemas of the Kubernetes API, compiled to validators).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runTool } from './k8s-tools';

export const REPO = join(__dirname, '..', '..', '..');
export const CHART = join(REPO, 'charts', 'matchcast');

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
};

export function parseManifests(text: string, source: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Manifest | null;
    if (value) out.push(value);
  }
  return out;
}

export function readYaml<T = unknown>(path: string): T {
  const docs = parseManifests(readFileSync(path, 'utf8'), path);
  return docs[0] as unknown as T;
}

/** `helm template` of the chart; throws with helm's message when the render fails. */
export function helmTemplate(args: string[] = [], release = 'matchcast'): Manifest[] {
  const result = runTool('helm', ['template', release, CHART, '--namespace', 'matchcast', ...args]);
  if (result.status !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${result.stderr}`);
  return parseManifests(result.stdout, `helm template ${args.join(' ')}`);
}

export function kustomizeBuild(dir: string): Manifest[] {
  const result = runTool('kubectl', ['kustomize', dir]);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseManifests(result.stdout, `kustomize ${dir}`);
}

// apiVersion → kubernetes-models module directory ("v1" is the core group).
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion === 'monitoring.coreos.com/v1') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Validation errors of one manifest against its Kubernetes schema (empty when valid). */
export function schemaErrors(manifest: Manifest): string[] {
  const where = `${manifest.kind}/${manifest.metadata?.name ?? '?'}`;
  let Model: (new (data: unknown) => { validate(): void }) | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Model = require(modelModule(manifest.apiVersion, manifest.kind))[manifest.kind];
  } catch {
    return [`${where}: no schema for ${manifest.apiVersion} ${manifest.kind}`];
  }
  if (!Model) return [`${where}: no schema for ${manifest.apiVersion} ${manifest.kind}`];
  // kustomize folds long base64 Secret values over several lines; the API server's base64
  // decoder skips line breaks, the schema's "byte" format does not.
  if (manifest.kind === 'Secret' && manifest.data) {
    const data = manifest.data as Record<string, string>;
    manifest = { ...manifest, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.replace(/[\r\n]/g, '')])) };
  }
  try {
    new Model(manifest).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: Record<string, { name?: string; key?: string; fieldPath?: string; optional?: boolean }> }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  restartPolicy?: string;
  resources?: unknown;
  securityContext?: Record<string, unknown>;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}

export function podSpec(workload: Manifest): PodSpec {
  const spec = (workload.spec as { template?: { spec: PodSpec } } | undefined)?.template?.spec ?? (workload.spec as PodSpec);
  return spec;
}

/** A container of the pod by name; native sidecars (init containers with restartPolicy Always) included. */
export function container(workload: Manifest, name: string): Container {
  const spec = podSpec(workload);
  const found = [...spec.containers, ...(spec.initContainers ?? [])].find((c) => c.name === name);
  if (!found) throw new Error(`${workload.kind}/${workload.metadata.name} has no container ${name}`);
  return found;
}

/** How each variable reaches a container: a literal value, or a reference ("secret", "field"). */
export type EnvSource = { kind: 'value'; value: string } | { kind: 'secret'; secret: string; key: string } | { kind: 'field'; fieldPath: string };

/**
 * The environment a container gets, resolving envFrom ConfigMaps against the other manifests
 * of the same render (kustomize name suffixes included). Later entries win, as in Kubernetes.
 */
export function containerEnv(c: Container, manifests: Manifest[]): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === from.configMapRef!.name);
      if (!cm) throw new Error(`container ${c.name}: ConfigMap ${from.configMapRef.name} is not in the render`);
      for (const [name, value] of Object.entries((cm.data as Record<string, string> | undefined) ?? {})) {
        env.set(name, { kind: 'value', value });
      }
    }
  }
  for (const entry of c.env ?? []) {
    if (entry.value !== undefined) env.set(entry.name, { kind: 'value', value: entry.value });
    else if (entry.valueFrom?.secretKeyRef) {
      env.set(entry.name, { kind: 'secret', secret: entry.valueFrom.secretKeyRef.name!, key: entry.valueFrom.secretKeyRef.key! });
    } else if (entry.valueFrom?.fieldRef) env.set(entry.name, { kind: 'field', fieldPath: entry.valueFrom.fieldRef.fieldPath! });
    else env.set(entry.name, { kind: 'value', value: '' });
  }
  return env;
}

// kustomize's name-hash alphabet has no vowels, so "-postgresql" is never mistaken for one.
export const stripHash = (name: string) => name.replace(/-[bcdfghkmnt2-9]{10}$/, '');
export const byId = (a: Manifest, b: Manifest) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

/** Drops what only one of Helm and kustomize adds: release bookkeeping, checksums, hash suffixes, empty config. */
export function normalize(manifest: Manifest): Manifest {
  const m = JSON.parse(JSON.stringify(manifest)) as Manifest;
  delete m.metadata.namespace;
  m.metadata.name = m.kind === 'ConfigMap' ? stripHash(m.metadata.name) : m.metadata.name;
  const dropLabels = (labels?: Record<string, string>) => {
    if (!labels) return;
    delete labels['helm.sh/chart'];
    delete labels['app.kubernetes.io/managed-by'];
  };
  dropLabels(m.metadata.labels);
  if (m.metadata.annotations && Object.keys(m.metadata.annotations).length === 0) delete m.metadata.annotations;
  if (m.kind === 'ConfigMap') {
    m.data = Object.fromEntries(Object.entries((m.data as Record<string, string>) ?? {}).filter(([, v]) => v !== ''));
    // kustomize's generator labels carry no version/part-of; compare the selector labels only.
    m.metadata.labels = Object.fromEntries(Object.entries(m.metadata.labels ?? {}).filter(([k]) => !['app.kubernetes.io/version', 'app.kubernetes.io/part-of'].includes(k)));
  }
  const template = (m.spec as { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } } | undefined)?.template;
  if (template?.metadata) {
    dropLabels(template.metadata.labels);
    const annotations = Object.fromEntries(Object.entries(template.metadata.annotations ?? {}).filter(([k]) => !k.startsWith('checksum/')));
    if (Object.keys(annotations).length > 0) template.metadata.annotations = annotations;
    else delete template.metadata.annotations;
    for (const c of [...podSpec(m).containers, ...(podSpec(m).initContainers ?? [])]) {
      for (const from of c.envFrom ?? []) if (from.configMapRef) from.configMapRef.name = stripHash(from.configMapRef.name);
    }
  }
  return m;
}
