/**
 * The service Dockerfiles, read as text (no Docker engine here; CI builds them): multi-stage,
 * Node 22 LTS, production dependencies only, non-root numeric user, HEALTHCHECK on the service's
 * own health port, and the entry point the chart and compose expect.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './support/manifests';

const SERVICES = [
  ['gateway', 'PORT', 8080],
  ['notify-listener', 'LISTENER_PORT', 8081],
  ['crawler', 'CRAWLER_PORT', 8082],
] as const;

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

describe.each(SERVICES)('services/%s/Dockerfile', (service, portVar, port) => {
  const path = join(REPO, 'services', service, 'Dockerfile');
  const lines = existsSync(path) ? instructions(readFileSync(path, 'utf8')) : [];
  const froms = lines.filter((l) => l.startsWith('FROM '));
  const runtime = lines.slice(lines.lastIndexOf(froms[froms.length - 1]!));

  it('exists', () => {
    expect(existsSync(path)).toBe(true);
  });

  it('is multi-stage on Node 22 (slim)', () => {
    expect(lines).toContain('ARG NODE_IMAGE=node:22-slim');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.every((f) => f.startsWith('FROM ${NODE_IMAGE}'))).toBe(true);
  });

  it('builds from the locked workspace and keeps production dependencies only', () => {
    const run = lines.filter((l) => l.startsWith('RUN ')).join('\n');
    expect(run).toContain('pnpm install --frozen-lockfile');
    expect(run).toContain(`tsc -b services/${service}`);
    expect(run).toContain(`pnpm deploy --filter @matchcast/${service} --prod /out`);
    expect(runtime.filter((l) => l.startsWith('COPY '))).toEqual(['COPY --from=build /out ./']);
    expect(runtime.some((l) => /pnpm|npm install/.test(l))).toBe(false);
  });

  it('runs as a non-root numeric user', () => {
    const users = runtime.filter((l) => l.startsWith('USER '));
    expect(users).toEqual(['USER 1000:1000']);
  });

  it(`has a HEALTHCHECK on /healthz at ${portVar} (default ${port})`, () => {
    const health = runtime.find((l) => l.startsWith('HEALTHCHECK '));
    expect(health).toBeDefined();
    expect(health).toContain('/healthz');
    expect(health).toContain(`process.env.${portVar} || ${port}`);
    expect(runtime).toContain(`EXPOSE ${port}`);
  });

  it('starts dist/main.js, the entry point the chart and compose rely on', () => {
    expect(runtime[runtime.length - 1]).toBe('CMD ["node", "dist/main.js"]');
  });
});

describe('.dockerignore', () => {
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
  it('keeps host dependencies and build output out of the build context', () => {
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
  });
  it('keeps every file the image build needs in the context', () => {
    for (const needed of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'packages', 'services', 'tsconfig.base.json']) {
      expect(ignore).not.toContain(needed);
    }
  });
});
