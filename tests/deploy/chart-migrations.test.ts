/**
 * The chart's migrations (Job hook and init containers) and its image settings, rendered by the
 * real helm: the migrator's own credentials and settings (every MIGRATE_* variable the CLI reads,
 * with the CLI's defaults), a Job that fails at once on the migrator's verdict, the Job's pod
 * placement options, and global.imageRegistry / global.imagePullSecrets on every pod.
 */
import { join } from 'node:path';
import { loadMigrateConfig } from '../../packages/db/src/cli';
import { EnvReader } from '@matchcast/runtime';
import { runTool, toolsUnavailableReason } from './support/k8s-tools';
import { CHART, container, containerEnv, find, helmTemplate, type Manifest, podSpec, schemaErrors } from './support/manifests';
import { loadValues } from './support/values';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`chart migration checks skipped: ${reason}`);

const EXTERNAL = ['-f', join(CHART, 'ci', 'no-redis-values.yaml')];
const WORKLOADS = ['matchcast-gateway', 'matchcast-crawler', 'matchcast-api', 'matchcast-notifier'];

/** What the migration CLI reads, with its defaults (its real loadMigrateConfig). */
function migratorReads(): Map<string, string | undefined> {
  const env = new EnvReader({ DATABASE_URL: 'postgres://owner@h/db' });
  loadMigrateConfig(env);
  return env.read;
}

describe('migrations.config', () => {
  it('holds every MIGRATE_* variable the CLI reads, with the CLI\'s own defaults, and nothing else', () => {
    const config = (loadValues().migrations as { config: Record<string, string> }).config;
    const reads = [...migratorReads()].filter(([name]) => name !== 'DATABASE_URL');
    expect(Object.fromEntries(reads)).toEqual(config);
  });
});

describeWithHelm('migration Job', () => {
  let job: Manifest;
  beforeAll(() => {
    job = find(helmTemplate(EXTERNAL), 'Job', 'matchcast-migrate');
  });

  it('runs the CLI itself (no shell retry loop) with the migrations\' settings', () => {
    const migrate = container(job, 'migrate');
    expect(migrate.command).toEqual(['node', 'node_modules/@matchcast/db/dist/cli.js']);
    const env = containerEnv(migrate, []);
    for (const [name, value] of migratorReads()) {
      if (name !== 'DATABASE_URL') expect([name, env.get(name)]).toEqual([name, { kind: 'value', value }]);
    }
  });

  it('fails the Job at once on exit code 1 (the migrator\'s verdict), and still retries an evicted pod', () => {
    const policy = (job.spec as { podFailurePolicy: { rules: unknown[] } }).podFailurePolicy;
    expect(policy.rules).toEqual([
      { action: 'FailJob', onExitCodes: { containerName: 'migrate', operator: 'In', values: [1] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    ]);
    expect(schemaErrors(job)).toEqual([]);
  });

  it('takes annotations, pod annotations, a ServiceAccount, nodeSelector, tolerations, affinity and resources', () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['ops'] }] }] } } };
    const values = {
      annotations: { 'example.com/owner': 'dba' },
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      serviceAccountName: 'db-migrator',
      nodeSelector: { pool: 'ops' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ops', effect: 'NoSchedule' }],
      affinity,
      resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { memory: '200Mi' } },
    };
    const manifests = helmTemplate([...EXTERNAL, '--set-json', `migrations=${JSON.stringify(values)}`]);
    const custom = find(manifests, 'Job', 'matchcast-migrate');
    expect(custom.metadata.annotations).toMatchObject({ 'example.com/owner': 'dba', 'helm.sh/hook': 'pre-install,pre-upgrade' });
    const template = (custom.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
    expect(template.metadata.annotations).toEqual(values.podAnnotations);
    const spec = podSpec(custom);
    expect(spec).toMatchObject({ serviceAccountName: 'db-migrator', automountServiceAccountToken: false, nodeSelector: values.nodeSelector, tolerations: values.tolerations, affinity });
    expect(container(custom, 'migrate').resources).toEqual(values.resources);
    expect(manifests.flatMap(schemaErrors)).toEqual([]);
  });

  it('reads DATABASE_URL from migrations.existingSecret when given, apart from the services\' Secret, and creates no hook Secret', () => {
    const manifests = helmTemplate([...EXTERNAL, '--set', 'migrations.existingSecret=db-owner', '--set', 'migrations.existingSecretKey=url']);
    const env = container(find(manifests, 'Job', 'matchcast-migrate'), 'migrate').env!;
    expect(env.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'db-owner', key: 'url' });
    expect(manifests.filter((m) => m.kind === 'Secret' && m.metadata.name === 'matchcast-migrate')).toEqual([]);
    // The services keep their own logins.
    const gateway = container(find(manifests, 'Deployment', 'matchcast-gateway'), 'gateway').env!;
    expect(gateway.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'matchcast', key: 'GATEWAY_DATABASE_URL' });
  });
});

describeWithHelm('migration init containers', () => {
  it('run the CLI itself with the migrations\' settings and credentials in every pod that uses the database', () => {
    const manifests = helmTemplate(['--set', 'migrations.existingSecret=db-owner']);
    for (const name of WORKLOADS) {
      const migrate = podSpec(find(manifests, 'Deployment', name)).initContainers!.find((c) => c.name === 'migrate')!;
      expect([name, migrate.command]).toEqual([name, ['node', 'node_modules/@matchcast/db/dist/cli.js']]);
      const env = containerEnv(migrate, manifests);
      expect([name, env.get('MIGRATE_CONNECT_RETRIES')]).toEqual([name, { kind: 'value', value: '60' }]);
      expect([name, migrate.env!.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef]).toEqual([name, { name: 'db-owner', key: 'DATABASE_URL' }]);
    }
  });
});

describeWithHelm('images', () => {
  const images = (manifests: Manifest[]) =>
    manifests
      .filter((m) => ['Deployment', 'StatefulSet', 'Job', 'Pod'].includes(m.kind))
      .flatMap((m) => [...podSpec(m).containers, ...(podSpec(m).initContainers ?? [])].map((c) => c.image!));
  const pullSecrets = (manifests: Manifest[]) =>
    manifests
      .filter((m) => ['Deployment', 'StatefulSet', 'Job', 'Pod'].includes(m.kind))
      .map((m) => [`${m.kind}/${m.metadata.name}`, podSpec(m).imagePullSecrets]);

  it('by default: matchcast images by repository and appVersion tag, no pull secrets', () => {
    const manifests = helmTemplate();
    expect([...new Set(images(manifests))].sort()).toEqual([
      'docker.io/library/postgres:15',
      'docker.io/library/redis:7.4',
      'matchcast-api:0.1.0',
      'matchcast-crawler:0.1.0',
      'matchcast-gateway:0.1.0',
      'matchcast-notifier:0.1.0',
      'matchcast-notify-listener:0.1.0',
    ]);
    expect(pullSecrets(manifests).filter(([, secrets]) => secrets !== undefined)).toEqual([]);
  });

  it('global.imageRegistry and global.imagePullSecrets reach every image and every pod (a parent chart\'s globals)', () => {
    const global = { imageRegistry: 'mirror.example.com', imagePullSecrets: ['regcred', { name: 'other' }], storageClass: 'fast' };
    const manifests = helmTemplate(['--set-json', `global=${JSON.stringify(global)}`, '--set', 'image.pullSecrets={regcred,third}']);
    const all = images(manifests);
    expect(all.filter((image) => !image.startsWith('mirror.example.com/'))).toEqual([]);
    expect(all).toContain('mirror.example.com/library/postgres:15');
    expect(all).toContain('mirror.example.com/matchcast-gateway:0.1.0');
    const secrets = pullSecrets(manifests);
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    for (const [name, list] of secrets) expect([name, list]).toEqual([name, [{ name: 'regcred' }, { name: 'other' }, { name: 'third' }]]);
    expect(manifests.flatMap(schemaErrors)).toEqual([]);
  });

  it('says in NOTES that the images must be built and pushed when no registry is set, and not when one is', () => {
    const notes = (args: string[]) => {
      const result = runTool('helm', ['install', 'matchcast', CHART, '--dry-run', '--namespace', 'matchcast', ...args]);
      return result.stdout.slice(result.stdout.indexOf('NOTES:'));
    };
    expect(notes([])).toMatch(/these\s+images are not published[\s\S]*global\.imageRegistry/);
    expect(notes(['--set', 'global.imageRegistry=ghcr.io/acme'])).not.toMatch(/are not published/);
    expect(notes(['--set', 'image.registry=ghcr.io/acme'])).not.toMatch(/are not published/);
  });
});
