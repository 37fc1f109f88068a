/**
 * The one Dockerfile, read as text (no Docker engine here; CI builds it): multi-stage, Node 22
 * LTS, production dependencies only, a non-root numeric user, the service chosen by build
 * argument, a HEALTHCHECK on the service's own health port (`service` target) and no port or
 * HEALTHCHECK for the chaos runner (`job` target).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvReader } from '@matchcast/runtime';
import { REPO } from './support/manifests';
import { DEFAULT_HEALTH, SERVICE_IMAGES } from './support/images';

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

describe('Dockerfile', () => {
  const lines = instructions(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  const stage = (name: string) => {
    const start = lines.findIndex((l) => l.startsWith('FROM ') && l.endsWith(` AS ${name}`));
    const next = lines.findIndex((l, i) => i > start && l.startsWith('FROM '));
    return lines.slice(start, next < 0 ? undefined : next);
  };
  const froms = lines.filter((l) => l.startsWith('FROM '));

  it('is multi-stage on Node 22 (slim)', () => {
    expect(lines).toContain('ARG NODE_IMAGE=node:22-slim');
    expect(froms).toEqual([
      'FROM ${NODE_IMAGE} AS build',
      'FROM scratch AS prebuilt',
      'FROM ${APP_SOURCE} AS app',
      'FROM ${NODE_IMAGE} AS runtime',
      'FROM runtime AS job',
      'FROM runtime AS service',
    ]);
  });

  it('builds from the registry by default, or from a production copy given as the context (APP_SOURCE=prebuilt)', () => {
    expect(lines).toContain('ARG APP_SOURCE=build');
    expect(stage('prebuilt')).toEqual(['FROM scratch AS prebuilt', 'COPY . /out']);
    expect(stage('app')).toEqual(['FROM ${APP_SOURCE} AS app']);
  });

  it('needs no frontend image from a registry (no `# syntax` line)', () => {
    expect(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it('builds the SERVICE argument from the locked workspace and keeps production dependencies only', () => {
    const build = stage('build');
    expect(build).toContain('ARG SERVICE');
    const run = build.filter((l) => l.startsWith('RUN ')).join('\n');
    expect(run).toContain('test -n "$SERVICE"');
    expect(run).toContain('pnpm install --frozen-lockfile --filter "@matchcast/${SERVICE}..."');
    expect(run).toContain('tsc -b "services/${SERVICE}"');
    expect(run).toContain('pnpm deploy --filter "@matchcast/${SERVICE}" --prod /out');
    // The gateway page's bundle of @matchcast/client is made before the production copy is cut.
    const bundle = run.indexOf('pnpm --filter "@matchcast/${SERVICE}" run --if-present bundle');
    expect(bundle).toBeGreaterThan(run.indexOf('tsc -b "services/${SERVICE}"'));
    expect(bundle).toBeLessThan(run.indexOf('pnpm deploy'));
    const runtime = [...stage('runtime'), ...stage('job'), ...stage('service')];
    expect(runtime.filter((l) => l.startsWith('COPY '))).toEqual(['COPY --from=app /out ./']);
    expect(runtime.some((l) => /pnpm|npm install/.test(l))).toBe(false);
  });

  it('runs as a non-root numeric user', () => {
    expect(stage('runtime').filter((l) => l.startsWith('USER '))).toEqual(['USER 1000:1000']);
  });

  it('has a HEALTHCHECK on /healthz at the port variable given as a build argument, and starts dist/main.js', () => {
    const service = stage('service');
    expect(service).toContain(`ARG HEALTH_PORT_VAR=${DEFAULT_HEALTH.portVar}`);
    expect(service).toContain(`ARG HEALTH_PORT=${DEFAULT_HEALTH.port}`);
    expect(service).toContain('EXPOSE ${HEALTH_PORT}');
    const health = service.find((l) => l.startsWith('HEALTHCHECK '));
    expect(health).toContain('/healthz');
    expect(health).toContain('process.env[process.env.MATCHCAST_HEALTH_PORT_VAR] || process.env.MATCHCAST_HEALTH_PORT');
    expect(service[service.length - 1]).toBe('CMD ["node", "dist/main.js"]');
    expect(lines[lines.length - 1]).toBe('CMD ["node", "dist/main.js"]'); // the default target is `service`
  });

  it('names every service in its SERVICE error message', () => {
    const services = readdirSync(join(REPO, 'services'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    const message = /SERVICE=<([^>]+)> is required/.exec(stage('build').join('\n'))?.[1]?.split('|') ?? [];
    expect(message.sort()).toEqual(services.sort());
  });

  it('gives the job target no port and no HEALTHCHECK', () => {
    const job = stage('job');
    expect(job.some((l) => /^(EXPOSE|HEALTHCHECK) /.test(l))).toBe(false);
    expect(job).toContain('ENTRYPOINT ["node", "dist/main.js"]');
  });
});

describe('.dockerignore', () => {
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
  it('keeps host dependencies and build output out of the build context', () => {
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
  });
  it('keeps the generated page bundle out (the build stage makes its own)', () => {
    expect(ignore).toContain('services/gateway/public/matchcast-client.js');
  });
  it('keeps every file the image build needs in the context', () => {
    for (const needed of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'packages', 'services', 'tsconfig.base.json']) {
      expect(ignore).not.toContain(needed);
    }
  });
});

describe('the images\' health ports', () => {
  it('cover every long-running service (all but the chaos runner, a job)', () => {
    const services = readdirSync(join(REPO, 'services'), { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'chaos').map((e) => e.name);
    expect(SERVICE_IMAGES.map((i) => i.service).sort()).toEqual(services.sort());
  });

  it.each(SERVICE_IMAGES.map((i) => [i.service, i.portVar, i.port]))('%s: HEALTHCHECK on %s, whose default in the service is %d', (service, portVar, port) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadConfig } = require(join(REPO, 'services', String(service), 'src', 'config')) as { loadConfig(env: EnvReader): unknown };
    const env = new EnvReader({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h:6379' });
    loadConfig(env);
    expect(env.read.get(String(portVar))).toBe(String(port));
  });
});

describe('the CI workflow (.github/workflows/deploy.yml)', () => {
  const workflow = readFileSync(join(REPO, '.github', 'workflows', 'deploy.yml'), 'utf8').replace(/\\\n\s*/g, '');
  const builds = [...workflow.matchAll(/docker buildx build [^\n]*/g)].map((m) => m[0]);

  it.each(SERVICE_IMAGES.map((i) => [i.service, i]))('builds %s with the same build arguments as compose', (_name, image) => {
    const build = builds.find((b) => b.includes(`--build-arg SERVICE=${image.service} `));
    expect(build).toBeDefined();
    if (image.portVar !== DEFAULT_HEALTH.portVar) {
      expect(build).toContain(`--build-arg HEALTH_PORT_VAR=${image.portVar} --build-arg HEALTH_PORT=${image.port}`);
    }
    expect(build).toContain(`-t matchcast-${image.service}:ci`);
  });

  it('checks every service image and loads each into kind', () => {
    const loops = [...workflow.matchAll(/for svc in ([a-z\- ]+); do/g)].map((m) => m[1]!.split(' ').sort());
    expect(loops.length).toBeGreaterThanOrEqual(2);
    for (const services of loops) expect(services).toEqual(SERVICE_IMAGES.map((i) => i.service).sort());
  });
});
