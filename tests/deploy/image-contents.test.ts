/**
 * What each image ships, run for real without Docker: the same `pnpm deploy --prod` cut the
 * Dockerfile makes (src and tests removed), started from those directories against a real
 * PostgreSQL and Redis with the chart's default configuration — migrations from the gateway
 * image's path, then listener, gateway, crawler, API and notifier, each with its own
 * least-privilege database user and Redis ACL user, as deployed — and the chart's `helm test`
 * script must see a live update over WebSocket, also after Redis is killed; the API answers on
 * the ports the chart probes and routes to, as its own user; a follower's notifications go from
 * the crawler's writes through the notifier to the API.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '@matchcast/auth';
import { freePort, PostgresServer, RedisServer, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import pg from 'pg';
import { CHART, REPO } from './support/manifests';
import { loadValues } from './support/values';

const SERVICES = ['gateway', 'notify-listener', 'crawler', 'api', 'notifier'] as const;
const PG_PASSWORDS = { gateway: 'image-gw', listener: 'image-li', crawler: 'image-cr', api: 'image-api', notifier: 'image-no' };
/** The Secret's BUS_SIGNING_KEYS (the chart generates one for the listener and the gateway). */
const BUS_SIGNING_KEYS = 'image-contents-bus-signing-key-0123456789';
/** The Secret's AUTH_JWT_SECRET (the chart passes it to the gateway and the API alike). */
const JWT_SECRET = 'image-contents-jwt-secret-0123456789abcdef';
const REDIS_PASSWORDS = { REDIS_GATEWAY_PASSWORD: 'image-redis-gw', REDIS_LISTENER_PASSWORD: 'image-redis-li' };
const SCRIPT = readFileSync(join(CHART, 'files', 'helm-test-websocket.js'), 'utf8');
const API_SCRIPT = readFileSync(join(CHART, 'files', 'helm-test-api.js'), 'utf8');
const values = loadValues() as Record<string, { config: Record<string, string> }>;

/** A component's chart ConfigMap: its non-empty config values. */
const chartConfig = (key: string) => Object.fromEntries(Object.entries(values[key]!.config).filter(([, v]) => v !== ''));

jest.setTimeout(180_000);

describe('production-only builds of the services (the images, without Docker)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matchcast-image-'));
  const out = (service: string) => join(dir, service);
  let postgres: PostgresServer;
  let redis: RedisServer;
  const children: ManagedChild[] = [];
  let gatewayPort = 0;
  let gatewayOpsPort = 0;
  let apiPort = 0;
  let apiOpsPort = 0;
  let notifierOpsPort = 0;

  const baseEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NODE_ENV: 'production' });

  function runScript(url: string, timeoutSeconds: number) {
    // Node 20 here has no global WebSocket, so the script falls back to the image's `ws`
    // (resolved from the working directory, as in the gateway image's /app).
    return spawnSync(process.execPath, ['-e', SCRIPT], {
      cwd: out('gateway'),
      env: { ...baseEnv(), GATEWAY_WS_URL: url, TIMEOUT_SECONDS: String(timeoutSeconds) },
      encoding: 'utf8',
      timeout: (timeoutSeconds + 10) * 1000,
    });
  }

  beforeAll(async () => {
    for (const service of SERVICES) {
      if (!existsSync(join(REPO, 'services', service, 'dist', 'main.js'))) {
        throw new Error(`services/${service}/dist/main.js is missing: build first (make test runs tsc -b)`);
      }
      if (service === 'gateway' && !existsSync(join(REPO, 'services', 'gateway', 'public', 'matchcast-client.js'))) {
        throw new Error('services/gateway/public/matchcast-client.js is missing: build first (make build bundles it)');
      }
      const result = spawnSync('pnpm', ['deploy', '--filter', `@matchcast/${service}`, '--prod', '--prefer-offline', out(service)], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true' },
      });
      if (result.status !== 0) throw new Error(`pnpm deploy ${service} failed:\n${result.stdout}\n${result.stderr}`);
      // As the Dockerfile does: the runtime image has no sources and no tests.
      for (const extra of ['src', 'test', 'scripts', 'tsconfig.json', 'tsconfig.tsbuildinfo', 'Dockerfile']) rmSync(join(out(service), extra), { recursive: true, force: true });
    }
    // As deployed: PostgreSQL with passwords and one login user per service; Redis with the
    // shipped ACL (each service its own user, the default user off).
    postgres = await new PostgresServer({ passwordAuthentication: true }).start();
    const aclFile = join(dir, 'users.acl');
    const rendered = spawnSync('sh', [join(CHART, 'files', 'redis-start.sh'), '--render-only'], {
      env: { ...baseEnv(), REDIS_ACL_TEMPLATE: join(CHART, 'files', 'redis-users.acl'), REDIS_ACL_FILE: aclFile, ...REDIS_PASSWORDS },
      encoding: 'utf8',
    });
    if (rendered.status !== 0) throw new Error(`rendering the Redis ACL failed: ${rendered.stderr}`);
    redis = await new RedisServer({ aclFile }).start();

    const migrate = spawnSync(process.execPath, ['node_modules/@matchcast/db/dist/cli.js'], {
      cwd: out('gateway'),
      env: { ...baseEnv(), DATABASE_URL: postgres.url },
      encoding: 'utf8',
    });
    if (migrate.status !== 0) throw new Error(`migration failed:\n${migrate.stdout}\n${migrate.stderr}`);
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      for (const [service, password] of Object.entries(PG_PASSWORDS)) {
        await admin.query(`CREATE ROLE matchcast_${service}_login LOGIN PASSWORD '${password}' IN ROLE matchcast_${service}`);
      }
    } finally {
      await admin.end();
    }
    const pgUrl = (service: keyof typeof PG_PASSWORDS) => {
      const url = new URL(postgres.url);
      url.username = `matchcast_${service}_login`;
      url.password = PG_PASSWORDS[service];
      return url.toString();
    };

    const [listenerPort, crawlerPort] = [await freePort(), await freePort()];
    [gatewayPort, gatewayOpsPort] = [await freePort(), await freePort()];
    [apiPort, apiOpsPort, notifierOpsPort] = [await freePort(), await freePort(), await freePort()];

    const start = (service: string, env: Record<string, string>, entry = 'dist/main.js') => {
      const child = startChild(process.execPath, [entry], join(dir, `${service}.log`), { cwd: out(service), env: { ...baseEnv(), ...env } });
      children.push(child);
    };
    start('notify-listener', {
      ...chartConfig('notifyListener'),
      DATABASE_URL: pgUrl('listener'),
      REDIS_URL: redis.urlFor('matchcast-listener', REDIS_PASSWORDS.REDIS_LISTENER_PASSWORD),
      BUS_SIGNING_KEYS,
      LISTENER_PORT: String(listenerPort), LISTENER_HOST: '127.0.0.1' }, 'dist/supervise.js'); // as the chart's sidecar placements run it
    start('gateway', {
      ...chartConfig('gateway'),
      DATABASE_URL: pgUrl('gateway'),
      REDIS_URL: redis.urlFor('matchcast-gateway', REDIS_PASSWORDS.REDIS_GATEWAY_PASSWORD),
      SSE_POSITION_KEY: 'image-contents-sse-position-key-0123456789',
      BUS_SIGNING_KEYS,
      AUTH_JWT_SECRET: JWT_SECRET,
      PORT: String(gatewayPort), OPS_PORT: String(gatewayOpsPort), HOST: '127.0.0.1' });
    start('crawler', { ...chartConfig('crawler'), DATABASE_URL: pgUrl('crawler'), CRAWLER_PORT: String(crawlerPort), CRAWLER_EVENTS_PER_SECOND: '20' });
    // As the chart's API container: its ConfigMap, then PORT and OPS_PORT, the Secret's URL and
    // token secret, and DEV_SIGN_IN pinned to "false".
    start('api', {
      ...chartConfig('api'),
      DATABASE_URL: pgUrl('api'), AUTH_JWT_SECRET: JWT_SECRET, DEV_SIGN_IN: 'false',
      PORT: String(apiPort), OPS_PORT: String(apiOpsPort), HOST: '127.0.0.1' });
    start('notifier', { ...chartConfig('notifier'), DATABASE_URL: pgUrl('notifier'), OPS_PORT: String(notifierOpsPort) });
    await waitFor(
      'the gateway and the API to be ready',
      async () => {
        const urls = [`http://127.0.0.1:${gatewayOpsPort}/readyz`, `http://127.0.0.1:${apiOpsPort}/readyz`, `http://127.0.0.1:${notifierOpsPort}/readyz`];
        // Each body read to the end: an unread one leaves its socket paused in the pool, where it
        // misses the server closing it and fails a much later request to the same port.
        const ready = await Promise.all(urls.map((url) => fetch(url).then(async (r) => (await r.arrayBuffer(), r.ok), () => false)));
        return ready.every(Boolean) ? true : undefined;
      },
      60_000,
      250,
    ).catch((error: Error) => {
      const logs = SERVICES.map((s) => `--- ${s}\n${existsSync(join(dir, `${s}.log`)) ? readFileSync(join(dir, `${s}.log`), 'utf8').slice(-2000) : ''}`).join('\n');
      throw new Error(`${error.message}\n${logs}`);
    });
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGTERM', 30_000)));
    await redis?.destroy?.();
    await postgres?.destroy?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships compiled code and production dependencies only', () => {
    for (const service of SERVICES) {
      expect(existsSync(join(out(service), 'dist', 'main.js'))).toBe(true);
      expect(existsSync(join(out(service), 'node_modules', 'typescript'))).toBe(false);
      expect(existsSync(join(out(service), 'node_modules', 'jest'))).toBe(false);
    }
    expect(existsSync(join(out('gateway'), 'node_modules', '@matchcast', 'db', 'migrations'))).toBe(true);
  });

  it('ships the scoreboard page with its bundle of @matchcast/client, and no bundler', async () => {
    const bundle = join(out('gateway'), 'public', 'matchcast-client.js');
    expect(existsSync(bundle)).toBe(true);
    expect(readFileSync(bundle, 'utf8')).toContain('var Matchcast=');
    expect(readFileSync(join(out('gateway'), 'public', 'index.html'), 'utf8')).toContain('<script src="/matchcast-client.js">');
    expect(existsSync(join(out('gateway'), 'node_modules', 'esbuild'))).toBe(false);
    expect(existsSync(join(out('gateway'), 'node_modules', '@matchcast', 'client'))).toBe(false);
    const served = await fetch(`http://127.0.0.1:${gatewayPort}/matchcast-client.js`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/javascript/);
  });

  it('runs on the Redis path with the least-privilege users (listener publishes, gateway subscribes)', async () => {
    await waitFor(
      'the gateway to use Redis',
      async () => ((await (await fetch(`http://127.0.0.1:${gatewayOpsPort}/readyz`)).text()).includes('"redis"') ? true : undefined),
      20_000,
      250,
    );
  });

  it('the helm test script sees a live update over WebSocket', () => {
    const result = runScript(`ws://127.0.0.1:${gatewayPort}/ws`, 30);
    expect(result.stdout).toContain('PASS: update received');
    expect(result.status).toBe(0);
  });

  it('updates keep arriving after Redis is killed (the gateway falls back to Postgres LISTEN)', async () => {
    await redis.kill();
    const result = runScript(`ws://127.0.0.1:${gatewayPort}/ws`, 30);
    expect(result.stdout).toContain('PASS: update received');
    expect(result.status).toBe(0);
  });

  it('API: /healthz and /readyz on OPS_PORT (what the chart probes), REST on PORT and not on the ops port', async () => {
    expect((await fetch(`http://127.0.0.1:${apiOpsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${apiOpsPort}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${apiOpsPort}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${apiOpsPort}/api/notifications`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${apiPort}/api/notifications`)).status).toBe(401);
  });

  it('API: a user\'s requests work as the least-privilege matchcast_api_login (follow a team, read notifications)', async () => {
    const token = await mintToken(JWT_SECRET, { subject: 'image-user' });
    const headers = { Authorization: `Bearer ${token}` };
    const teams = await waitFor('the crawler to create a team', async () => {
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      try {
        return (await admin.query<{ id: string }>('SELECT id FROM team LIMIT 1')).rows[0]?.id;
      } finally {
        await admin.end();
      }
    }, 30_000, 250);
    const follow = await fetch(`http://127.0.0.1:${apiPort}/api/me/follows/team/${encodeURIComponent(teams)}`, { method: 'PUT', headers });
    expect(follow.status).toBeLessThan(300);
    const follows = await fetch(`http://127.0.0.1:${apiPort}/api/me/follows`, { headers });
    expect(follows.status).toBe(200);
    expect(JSON.stringify(await follows.json())).toContain(teams);
    const list = await fetch(`http://127.0.0.1:${apiPort}/api/notifications`, { headers });
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ unread_count: 0 });
  });

  it('the API\'s helm test script passes: signed, the unread count; without a secret, the refusal; with a wrong one it fails', () => {
    const run = (env: Record<string, string>, timeoutSeconds = 20) =>
      spawnSync(process.execPath, ['-e', API_SCRIPT], {
        env: { ...baseEnv(), API_URL: `http://127.0.0.1:${apiPort}`, TIMEOUT_SECONDS: String(timeoutSeconds), ...env },
        encoding: 'utf8',
        timeout: (timeoutSeconds + 10) * 1000,
      });
    const signed = run({ AUTH_JWT_SECRET: JWT_SECRET });
    expect(signed.stdout).toContain('PASS: the API answered the unread count');
    expect(signed.status).toBe(0);
    const anonymous = run({});
    expect(anonymous.stdout).toContain('PASS: the API answered (no AUTH_JWT_SECRET');
    expect(anonymous.status).toBe(0);
    const wrong = run({ AUTH_JWT_SECRET: 'not-the-release-secret-0123456789abcdef' });
    expect(wrong.stdout).toContain('FAIL: the API refused the request');
    expect(wrong.status).toBe(1);
  });

  it('notifier: /healthz, /readyz and its metrics on OPS_PORT (what the chart probes and scrapes)', async () => {
    expect((await fetch(`http://127.0.0.1:${notifierOpsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${notifierOpsPort}/readyz`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${notifierOpsPort}/metrics`)).text()).toContain('matchcast_notifier_');
  });

  it('a follower of every league gets notifications: crawler → notifier (matchcast_notifier_login) → API (matchcast_api_login)', async () => {
    const token = await mintToken(JWT_SECRET, { subject: 'image-follower' });
    const headers = { Authorization: `Bearer ${token}` };
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    const leagues = await admin.query<{ id: string }>('SELECT id FROM league').finally(() => admin.end());
    expect(leagues.rows.length).toBeGreaterThan(0);
    for (const { id } of leagues.rows) {
      expect((await fetch(`http://127.0.0.1:${apiPort}/api/me/follows/league/${encodeURIComponent(id)}`, { method: 'PUT', headers })).status).toBeLessThan(300);
    }
    const listed = await waitFor('a notification for the follower', async () => {
      const body = (await (await fetch(`http://127.0.0.1:${apiPort}/api/notifications`, { headers })).json()) as { total?: number; unread_count?: number };
      return body.unread_count && body.unread_count > 0 ? body : undefined;
    }, 90_000, 500);
    expect(listed.unread_count).toBeGreaterThan(0);
    // The same user's notification stream, from the gateway (as matchcast_gateway_login): the
    // ingress sends /api/notifications/stream there, with the same token.
    const controller = new AbortController();
    const stream = await fetch(`http://127.0.0.1:${gatewayPort}/api/notifications/stream`, { headers, signal: controller.signal });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = '';
    while (!/event: connected\ndata: .*\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    const connected = JSON.parse(/event: connected\ndata: (.*)\n/.exec(text)![1]!) as { unread_count: number };
    expect(connected.unread_count).toBeGreaterThan(0);
  });

  it('API: the development sign-in is off as the chart runs it', async () => {
    const signIn = await fetch(`http://127.0.0.1:${apiPort}/api/dev/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"user":"x"}' });
    expect(signIn.status).toBe(404);
  });

  it('the helm test script fails when no update can arrive', async () => {
    const result = runScript(`ws://127.0.0.1:${await freePort()}/ws`, 3);
    expect(result.stdout).toContain('FAIL');
    expect(result.status).toBe(1);
  });
});
