/**
 * docker-compose.yml: parses, has the services of `make demo` wired the right way round —
 * healthchecks, a one-shot migration every app service waits for, nothing that needs Redis
 * to be up except the notify-listener, images built from the repository's Dockerfiles, and one
 * way in: the edge (nginx, routes checked for real in routes.test.ts) on 127.0.0.1:8080.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { REPO } from './support/manifests';
import { DEFAULT_HEALTH, SERVICE_IMAGES } from './support/images';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  stop_grace_period?: string;
  [key: string]: unknown;
}

const doc = parseDocument(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { uniqueKeys: true });
const compose = doc.toJS() as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const condition = (service: string, on: string) => services[service]?.depends_on?.[on]?.condition;

// Keys this file may use: compose itself rejects a typo such as `depends-on`, but compose
// only runs in CI, so catch it here.
const SERVICE_KEYS = new Set(['image', 'build', 'command', 'environment', 'ports', 'depends_on', 'healthcheck', 'restart', 'stop_grace_period', 'volumes', 'user']);

describe('docker-compose.yml', () => {
  it('parses without errors or duplicate keys', () => {
    expect(doc.errors).toEqual([]);
  });

  it('is valid for Compose v2 and docker-compose 1.29 alike: no top-level `name` (1.29 rejects it) or `version`', () => {
    expect(Object.keys(compose).sort()).toEqual(['services', 'volumes']);
  });

  it('has postgres 15, redis 7, a migration step, the listener, the gateway, the crawler, the API, the notifier and the edge', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'crawler', 'db-users', 'edge', 'gateway', 'migrate', 'notifier', 'notify-listener', 'postgres', 'redis']);
    expect(services.postgres!.image).toBe('postgres:15');
    expect(services.redis!.image).toBe('redis:7');
  });

  it('uses only known service keys', () => {
    const unknown = Object.entries(services).flatMap(([name, s]) => Object.keys(s).filter((k) => !SERVICE_KEYS.has(k)).map((k) => `${name}.${k}`));
    expect(unknown).toEqual([]);
  });

  it('gives every long-running service a healthcheck', () => {
    for (const name of ['postgres', 'redis', 'notify-listener', 'gateway', 'crawler', 'api', 'notifier', 'edge']) {
      expect(services[name]!.healthcheck?.test?.length).toBeGreaterThan(0);
    }
    expect(services.gateway!.healthcheck!.test.join(' ')).toContain('/readyz');
    // Over TCP, not the Unix socket: the image's first-boot init server listens on the socket only.
    expect(services.postgres!.healthcheck!.test.join(' ')).toMatch(/pg_isready -h 127\.0\.0\.1 -p 5432 /);
    expect(services.redis!.healthcheck!.test.join(' ')).toContain('redis-cli -h 127.0.0.1 -p 6379 ');
    // On the ops port each service listens on.
    expect(services.api!.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${services.api!.environment!.OPS_PORT}/readyz`);
    expect(services.notifier!.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${services.notifier!.environment!.OPS_PORT}/healthz`);
  });

  it('runs the migration once, after PostgreSQL is healthy, and starts the app services only when it succeeded', () => {
    expect(services.migrate!.command).toEqual(['node', 'node_modules/@matchcast/db/dist/cli.js']);
    expect(services.migrate!.restart).toBe('no');
    expect(condition('migrate', 'postgres')).toBe('service_healthy');
    for (const name of ['notify-listener', 'gateway', 'crawler', 'api', 'notifier']) {
      expect(condition(name, 'migrate')).toBe('service_completed_successfully');
      expect(condition(name, 'postgres')).toBe('service_healthy');
    }
  });

  it('makes only the notify-listener wait for a healthy Redis; the crawler and notifier never touch Redis, the API reads presence as its own user', () => {
    expect(condition('notify-listener', 'redis')).toBe('service_healthy');
    expect(condition('gateway', 'redis')).toBe('service_started');
    for (const name of ['crawler', 'api', 'notifier']) expect(services[name]!.depends_on?.redis).toBeUndefined();
    for (const name of ['crawler', 'notifier']) expect(services[name]!.environment?.REDIS_URL).toBeUndefined();
    expect(new URL(services.api!.environment!.REDIS_URL!).username).toBe('matchcast-api');
    expect(services.redis!.environment!.REDIS_API_PASSWORD).toBe(new URL(services.api!.environment!.REDIS_URL!).password);
  });

  it('publishes only the edge, on 127.0.0.1:8080, with the shipped nginx config, in front of healthy upstreams', () => {
    expect(Object.entries(services).filter(([, s]) => s.ports).map(([name, s]) => [name, s.ports])).toEqual([['edge', ['127.0.0.1:8080:8080']]]);
    expect(services.edge!.image).toBe('nginx:1.27-alpine');
    expect(services.edge!.volumes).toEqual(['./deploy/compose/edge.conf:/etc/nginx/conf.d/default.conf:ro']);
    expect(existsSync(join(REPO, 'deploy', 'compose', 'edge.conf'))).toBe(true);
    expect(condition('edge', 'gateway')).toBe('service_healthy');
    expect(condition('edge', 'api')).toBe('service_healthy');
    // The upstreams the config names are these services, on the ports they listen on.
    const conf = readFileSync(join(REPO, 'deploy', 'compose', 'edge.conf'), 'utf8');
    expect(conf).toContain(`server gateway:${services.gateway!.environment!.PORT};`);
    expect(conf).toContain(`server api:${services.api!.environment!.PORT};`);
    expect(conf).toMatch(/^\s*listen 8080;/m);
  });

  it('behind the edge, the gateway and the API trust one proxy hop; the dev sign-in only here, where the edge is local', () => {
    expect(services.gateway!.environment!.TRUSTED_PROXY_HOPS).toBe('1');
    expect(services.api!.environment!.TRUSTED_PROXY_HOPS).toBe('1');
    expect(services.api!.environment!.DEV_SIGN_IN).toBe('true');
    expect(services.edge!.ports!.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    // One token secret for both, so the API's tokens open the gateway's user streams.
    expect(services.api!.environment!.AUTH_JWT_SECRET).toBe(services.gateway!.environment!.AUTH_JWT_SECRET);
    expect(services.api!.environment!.AUTH_JWT_SECRET).toMatch(/^dev-only-.{24,}$/);
    expect(services.gateway!.environment!.SSE_POSITION_KEY).toMatch(/^dev-only-.{24,}$/);
  });

  it('gives the gateway time to drain on stop', () => {
    const grace = Number(services.gateway!.stop_grace_period!.replace(/s$/, '')) * 1000;
    expect(grace).toBeGreaterThanOrEqual(Number(services.gateway!.environment!.SHUTDOWN_TIMEOUT_MS));
  });

  it('builds each image from the one Dockerfile with its service and health port as build arguments', () => {
    for (const [name, image] of [['gateway', 'gateway'], ['migrate', 'gateway'], ['notify-listener', 'notify-listener'], ['crawler', 'crawler'], ['api', 'api'], ['notifier', 'notifier']]) {
      const { service, portVar, port } = SERVICE_IMAGES.find((i) => i.service === image)!;
      const args: Record<string, string> = { SERVICE: service };
      if (portVar !== DEFAULT_HEALTH.portVar) Object.assign(args, { HEALTH_PORT_VAR: portVar, HEALTH_PORT: String(port) });
      const build = services[name!]!.build!;
      expect(build).toEqual({ context: '.', dockerfile: 'Dockerfile', args });
      expect(existsSync(join(REPO, build.dockerfile))).toBe(true);
    }
  });

  it('depends only on services that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const on of Object.keys(s.depends_on ?? {})) expect([name, on, on in services]).toEqual([name, on, true]);
    }
  });

  it('credentials: each service its own PostgreSQL and Redis user, dev-only passwords, Redis with the shipped ACL', () => {
    const url = (name: string, variable: string) => new URL(services[name]!.environment![variable]!);
    expect(url('gateway', 'DATABASE_URL').username).toBe('matchcast_gateway_login');
    expect(url('notify-listener', 'DATABASE_URL').username).toBe('matchcast_listener_login');
    expect(url('crawler', 'DATABASE_URL').username).toBe('matchcast_crawler_login');
    expect(url('api', 'DATABASE_URL').username).toBe('matchcast_api_login');
    expect(url('notifier', 'DATABASE_URL').username).toBe('matchcast_notifier_login');
    expect(url('gateway', 'REDIS_URL').username).toBe('matchcast-gateway');
    expect(url('notify-listener', 'REDIS_URL').username).toBe('matchcast-listener');
    const all = readFileSync(join(REPO, 'docker-compose.yml'), 'utf8');
    const passwords = [
      ...[...all.matchAll(/:\/\/[^:\s/]+:([^@\s/]+)@/g)].map((m) => m[1]!),
      ...[...all.matchAll(/PASSWORD: (\S+)/g)].map((m) => m[1]!),
    ];
    expect(passwords.length).toBeGreaterThanOrEqual(14);
    expect(passwords.filter((p) => !p.startsWith('dev-only-'))).toEqual([]);
    expect(services.redis!.volumes).toEqual(expect.arrayContaining(['./charts/matchcast/files/redis-users.acl:/etc/matchcast/redis-users.acl:ro']));
    expect(services['db-users']!.volumes).toEqual(['./charts/matchcast/files/db-users.sql:/etc/matchcast/db-users.sql:ro']);
    expect(condition('migrate', 'db-users')).toBe('service_completed_successfully');
    // The ACL passwords the Redis container renders match the URLs the services get.
    const redisEnv = services.redis!.environment!;
    expect(url('gateway', 'REDIS_URL').password).toBe(redisEnv.REDIS_GATEWAY_PASSWORD);
    expect(url('notify-listener', 'REDIS_URL').password).toBe(redisEnv.REDIS_LISTENER_PASSWORD);
    const usersEnv = services['db-users']!.environment!;
    expect(url('gateway', 'DATABASE_URL').password).toBe(usersEnv.GATEWAY_PASSWORD);
    expect(url('notify-listener', 'DATABASE_URL').password).toBe(usersEnv.LISTENER_PASSWORD);
    expect(url('crawler', 'DATABASE_URL').password).toBe(usersEnv.CRAWLER_PASSWORD);
    expect(url('api', 'DATABASE_URL').password).toBe(usersEnv.API_PASSWORD);
    expect(url('notifier', 'DATABASE_URL').password).toBe(usersEnv.NOTIFIER_PASSWORD);
    // The db-users step hands psql every password the shipped script reads.
    const script = readFileSync(join(REPO, 'charts', 'matchcast', 'files', 'db-users.sql'), 'utf8');
    const variables = new Set([...script.matchAll(/:'(\w+_password)'/g)].map((m) => m[1]!));
    const given = new Set([...services['db-users']!.command!.join('\n').matchAll(/getenv (\w+_password) /g)].map((m) => m[1]!));
    expect([...given].sort()).toEqual([...variables].sort());
  });
});

describe('deploy/compose/docker-compose.offline.yml (make test-compose on an engine without a registry)', () => {
  const offline = parseDocument(readFileSync(join(REPO, 'deploy', 'compose', 'docker-compose.offline.yml'), 'utf8'), { uniqueKeys: true, merge: true });
  const overrides = (offline.toJS({ maxAliasCount: 100 }) as { services: Record<string, Service> }).services;

  it('parses and overrides only services docker-compose.yml has', () => {
    expect(offline.errors).toEqual([]);
    for (const name of Object.keys(overrides)) expect([name, name in services]).toEqual([name, true]);
  });

  it('swaps only where images come from: a registry image for a local one, or the app build context', () => {
    for (const [name, override] of Object.entries(overrides)) {
      if (services[name]!.build) {
        expect([name, Object.keys(override)]).toEqual([name, ['build']]);
        const build = override.build!;
        expect(build.context).toBe(`.tmp/compose/app/${services[name]!.build!.args!.SERVICE}`);
        // `dockerfile` is relative to the context: the repository's one Dockerfile.
        expect(join(REPO, build.context, build.dockerfile)).toBe(join(REPO, 'Dockerfile'));
        expect(build.args).toEqual({ NODE_IMAGE: 'matchcast-node:22', APP_SOURCE: 'prebuilt' });
      } else {
        expect([name, Object.keys(override)]).toEqual([name, ['image']]);
        expect(override.image).toMatch(/^matchcast-[a-z]+:/);
      }
    }
  });

  it('covers every image docker-compose.yml would pull or build', () => {
    const pulledOrBuilt = Object.entries(services).filter(([, s]) => s.image || s.build).map(([name]) => name);
    expect(Object.keys(overrides).sort()).toEqual(pulledOrBuilt.sort());
  });
});
