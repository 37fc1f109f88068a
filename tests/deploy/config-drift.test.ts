/**
 * Config drift, the usual deploy bug: every environment variable each service reads (as its
 * own loadConfig records it in EnvReader.read) must be wired, under the same name, in the Helm
 * chart, in k8s/ and in docker-compose.yml; where a manifest sets a value for it by default,
 * that value must be the service's own default; and no manifest may set a variable that no
 * service reads (a renamed variable left behind silently does nothing).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvReader } from '@matchcast/runtime';
import { parse } from 'yaml';
import { toolsUnavailableReason } from './support/k8s-tools';
import { container, containerEnv, type EnvSource, find, helmTemplate, kustomizeBuild, type Manifest, parseManifests, REPO } from './support/manifests';
import { loadValues } from './support/values';

type Reads = Map<string, string | undefined>;

interface ServiceWiring {
  service: string;
  valuesKey: string;
  deployment: string;
  container: string;
  compose: string;
  /** docker-compose.yml's deliberate departures from the service's defaults (with the reason in that file). */
  composeOverrides?: Record<string, string>;
  /** Variables the chart and k8s/ deliberately leave unset (the service's default applies). */
  unsetInCluster?: string[];
}

const SERVICES: ServiceWiring[] = [
  // Behind the compose edge, which appends X-Forwarded-For.
  { service: 'gateway', valuesKey: 'gateway', deployment: 'matchcast-gateway', container: 'gateway', compose: 'gateway', composeOverrides: { TRUSTED_PROXY_HOPS: '1' } },
  { service: 'notify-listener', valuesKey: 'notifyListener', deployment: 'matchcast-gateway', container: 'notify-listener', compose: 'notify-listener' },
  // The provider token comes from crawler.http.existingSecret when there is one.
  { service: 'crawler', valuesKey: 'crawler', deployment: 'matchcast-crawler', container: 'crawler', compose: 'crawler', unsetInCluster: ['CRAWLER_HTTP_TOKEN'] },
  // Compose: behind the edge, and the local demo's development sign-in. In a cluster the sign-in
  // is pinned off, so its token lifetime means nothing there.
  { service: 'api', valuesKey: 'api', deployment: 'matchcast-api', container: 'api', compose: 'api',
    composeOverrides: { TRUSTED_PROXY_HOPS: '1', DEV_SIGN_IN: 'true' }, unsetInCluster: ['DEV_SIGN_IN_TTL_MS'] },
  { service: 'notifier', valuesKey: 'notifier', deployment: 'matchcast-notifier', container: 'notifier', compose: 'notifier' },
];

/** What the service reads, by running its real loadConfig against a minimal valid environment. */
function readsOf(service: string): Reads {
  const path = join(REPO, 'services', service, 'src', 'config');
  let loadConfig: (env: EnvReader) => unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loadConfig = require(path).loadConfig;
  } catch (error) {
    throw new Error(`cannot load ${path}.ts: ${(error as Error).message}`);
  }
  if (typeof loadConfig !== 'function') throw new Error(`${path}.ts does not export loadConfig(env: EnvReader)`);
  const reader = new EnvReader({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h:6379' });
  loadConfig(reader);
  if (reader.read.size < 3) throw new Error(`${service}: loadConfig read only ${[...reader.read.keys()].join(', ')}`);
  return reader.read;
}

const asBool = (v: string) => (['1', 'true', 'yes', 'on'].includes(v.toLowerCase()) ? 'true' : ['0', 'false', 'no', 'off'].includes(v.toLowerCase()) ? 'false' : undefined);

function sameDefault(manifest: string, code: string): boolean {
  if (manifest === code) return true;
  if (manifest.trim() !== '' && code.trim() !== '' && Number.isFinite(Number(manifest)) && Number(manifest) === Number(code)) return true;
  const [a, b] = [asBool(manifest), asBool(code)];
  return a !== undefined && a === b;
}

/**
 * Problems with one target's wiring of one service. `env` is the container's environment as
 * rendered; `declared` are names the target lists without a value (left to the service).
 */
function driftProblems(reads: Reads, env: Map<string, EnvSource>, declared: Set<string> = new Set()): string[] {
  const problems: string[] = [];
  for (const [name, codeDefault] of reads) {
    const source = env.get(name);
    if (!source && !declared.has(name)) {
      problems.push(`${name}: read by the service, not wired`);
      continue;
    }
    if (source?.kind === 'value' && source.value !== '' && codeDefault !== undefined && !sameDefault(source.value, codeDefault)) {
      problems.push(`${name}: manifest default "${source.value}" but the service's default is "${codeDefault}"`);
    }
  }
  for (const name of new Set([...env.keys(), ...declared])) {
    if (!reads.has(name)) problems.push(`${name}: set in the manifest, read by no such variable in the service`);
  }
  return problems.sort();
}

const reason = toolsUnavailableReason();
if (reason) console.warn(`config drift: rendering with helm/kustomize skipped (${reason}); checking the source files instead`);

describe.each(SERVICES)('config drift: $service', (wiring) => {
  let reads: Reads;
  beforeAll(() => {
    reads = readsOf(wiring.service);
  });

  it('loads the service config and records what it reads', () => {
    expect(reads.has('DATABASE_URL')).toBe(true);
    expect([...reads.keys()].every((name) => /^[A-Z][A-Z0-9_]*$/.test(name))).toBe(true);
  });

  it('Helm chart: every variable wired with the same default (values.yaml + rendered pod)', () => {
    const config = (loadValues()[wiring.valuesKey] as { config: Record<string, string> }).config;
    const declared = new Set([...Object.keys(config), ...(wiring.unsetInCluster ?? [])]);
    let env: Map<string, EnvSource>;
    if (reason) {
      // Without helm: the config map keys plus the variables the templates set by name.
      const dir = join(REPO, 'charts', 'matchcast', 'templates');
      const templates = readdirSync(dir).filter((f) => /\.(yaml|tpl)$/.test(f)).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
      env = new Map(Object.entries(config).map(([k, v]) => [k, { kind: 'value', value: v } as EnvSource]));
      for (const name of reads.keys()) if (templates.includes(`- name: ${name}\n`)) env.set(name, { kind: 'field', fieldPath: 'template' });
    } else {
      const manifests = helmTemplate(['--set', 'chaos.enabled=true']);
      env = containerEnv(container(find(manifests, 'Deployment', wiring.deployment), wiring.container), manifests);
    }
    expect(driftProblems(reads, env, declared)).toEqual([]);
  });

  it('k8s/ base: every variable wired with the same default', () => {
    let manifests: Manifest[];
    if (reason) {
      // Without kustomize: the .env file the ConfigMap is generated from, and the Deployment file.
      const envFile = readFileSync(join(REPO, 'k8s', 'base', `${wiring.service}.env`), 'utf8');
      const data = Object.fromEntries(envFile.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const deployment = parseManifests(readFileSync(join(REPO, 'k8s', 'base', `${wiring.deployment.replace('matchcast-', '')}-deployment.yaml`), 'utf8'), 'k8s');
      manifests = [...deployment, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `matchcast-${wiring.service}` }, data }];
    } else {
      manifests = kustomizeBuild(join(REPO, 'k8s', 'base'));
    }
    const env = containerEnv(container(find(manifests, 'Deployment', wiring.deployment), wiring.container), manifests);
    expect(driftProblems(reads, env, new Set(wiring.unsetInCluster))).toEqual([]);
  });

  it('k8s/ overlays set only variables the service reads', () => {
    if (reason) return;
    for (const overlay of ['dev', 'prod']) {
      const manifests = kustomizeBuild(join(REPO, 'k8s', 'overlays', overlay));
      const env = containerEnv(container(find(manifests, 'Deployment', wiring.deployment), wiring.container), manifests);
      expect([overlay, [...env.keys()].filter((name) => !reads.has(name))]).toEqual([overlay, []]);
    }
  });

  it('docker-compose.yml: every variable wired with the same default', () => {
    const compose = parse(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
    const environment = compose.services[wiring.compose]?.environment ?? {};
    const overrides = wiring.composeOverrides ?? {};
    for (const [name, value] of Object.entries(overrides)) expect([name, environment[name]]).toEqual([name, value]);
    const env = new Map<string, EnvSource>(
      Object.entries(environment).map(([k, v]) => [k, { kind: 'value', value: k in overrides ? '' : String(v ?? '') }]),
    );
    expect(driftProblems(reads, env)).toEqual([]);
  });
});

describe('config drift check itself', () => {
  const reads: Reads = new Map([
    ['A_MS', '1000'],
    ['B', undefined],
    ['FLAG', 'false'],
  ]);
  const env = (entries: [string, string][]) => new Map<string, EnvSource>(entries.map(([k, v]) => [k, { kind: 'value', value: v }]));

  it('passes a faithful wiring (numbers and booleans compared by meaning)', () => {
    expect(driftProblems(reads, env([['A_MS', '1000.0'], ['B', 'x'], ['FLAG', 'no']]))).toEqual([]);
  });

  it('reports a missing variable, a different default and a stale variable', () => {
    expect(driftProblems(reads, env([['A_MS', '2000'], ['FLAG', ''], ['OLD_NAME', '1']]))).toEqual([
      'A_MS: manifest default "2000" but the service\'s default is "1000"',
      'B: read by the service, not wired',
      'OLD_NAME: set in the manifest, read by no such variable in the service',
    ]);
  });
});
