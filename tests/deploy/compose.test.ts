/**
 * docker-compose.yml: parses, has the services of `make demo` wired the right way round —
 * healthchecks, a one-shot migration every app service waits for, nothing that needs Redis
 * to be up except the notify-listener, images built from the repository's Dockerfiles.
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
const compose = doc.toJS() as { name?: string; services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const condition = (service: string, on: string) => services[service]?.depends_on?.[on]?.condition;

// Keys this file may use: compose itself rejects a typo such as `depends-on`, but compose
// only runs in CI, so catch it here.
const SERVICE_KEYS = new Set(['image', 'build', 'command', 'environment', 'ports', 'depends_on', 'healthcheck', 'restart', 'stop_grace_period', 'volumes', 'user']);

describe('docker-compose.yml', () => {
  it('parses without errors or duplicate keys', () => {
    expect(doc.errors).toEqual([]);
    expect(compose.name).toBe('matchcast');
  });

  it('has postgres 15, redis 7, a migration step, the listener, the gateway and the crawler', () => {
    expect(Object.keys(services).sort()).toEqual(['crawler', 'db-users', 'gateway', 'migrate', 'notify-listener', 'postgres', 'redis']);
    expect(services.postgres!.image).toBe('postgres:15');
    expect(services.redis!.image).toBe('redis:7');
  });

  it('uses only known service keys', () => {
    const unknown = Object.entries(services).flatMap(([name, s]) => Object.keys(s).filter((k) => !SERVICE_KEYS.has(k)).map((k) => `${name}.${k}`));
    expect(unknown).toEqual([]);
  });

  it('gives every long-running service a healthcheck', () => {
    for (const name of ['postgres', 'redis', 'notify-listener', 'gateway', 'crawler']) {
      expect(services[name]!.healthcheck?.test?.length).toBeGreaterThan(0);
    }
    expect(services.gateway!.healthcheck!.test.join(' ')).toContain('/readyz');
  });

  it('runs the migration once, after PostgreSQL is healthy, and starts the app services only when it succeeded', () => {
    expect(services.migrate!.command).toEqual(['node', 'node_modules/@matchcast/db/dist/cli.js']);
    expect(services.migrate!.restart).toBe('no');
    expect(condition('migrate', 'postgres')).toBe('service_healthy');
    for (const name of ['notify-listener', 'gateway', 'crawler']) {
      expect(condition(name, 'migrate')).toBe('service_completed_successfully');
      expect(condition(name, 'postgres')).toBe('service_healthy');
    }
  });

  it('makes only the notify-listener wait for a healthy Redis; the crawler never touches Redis', () => {
    expect(condition('notify-listener', 'redis')).toBe('service_healthy');
    expect(condition('gateway', 'redis')).toBe('service_started');
    expect(services.crawler!.depends_on?.redis).toBeUndefined();
    expect(services.crawler!.environment?.REDIS_URL).toBeUndefined();
  });

  it('publishes the gateway on 8080 and gives it time to drain on stop', () => {
    expect(services.gateway!.ports).toEqual(['8080:8080']);
    const grace = Number(services.gateway!.stop_grace_period!.replace(/s$/, '')) * 1000;
    expect(grace).toBeGreaterThanOrEqual(Number(services.gateway!.environment!.SHUTDOWN_TIMEOUT_MS));
  });

  it('builds each image from the one Dockerfile with its service and health port as build arguments', () => {
    for (const [name, image] of [['gateway', 'gateway'], ['migrate', 'gateway'], ['notify-listener', 'notify-listener'], ['crawler', 'crawler']]) {
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
  });
});
