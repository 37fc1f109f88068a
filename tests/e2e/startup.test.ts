/**
 * Every service's start-up ends a bad setting, or a port it cannot have, with one fatal JSON
 * line naming it and exit code 1 — never an unhandled rejection or a stack trace from a library.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { GatewayProcess, Infra, freePort } from '../harness/stack';

const ROOT = resolve(__dirname, '..', '..');

describe.each(['gateway', 'notify-listener', 'crawler'])('%s start-up with a bad setting', (service) => {
  it.each([
    ['LOG_LEVEL', 'bogus'],
    ['DATABASE_URL', 'not a url'],
  ])('%s=%s: exit 1 with a CONFIG_INVALID fatal line', (name, value) => {
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgres://x@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1', [name]: value };
    const result = spawnSync(process.execPath, [join(ROOT, 'services', service, 'dist', 'main.js')], { env, encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(1);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { level: string; code?: string; msg: string });
    expect(lines.at(-1)).toMatchObject({ level: 'fatal', code: 'CONFIG_INVALID' });
    expect(lines.at(-1)!.msg).toContain(name);
    expect(result.stderr).toBe('');
  });
});

describe('gateway start-up on a port already taken', () => {
  const infra = new Infra();
  beforeAll(() => infra.start(true), 60_000);
  afterAll(() => infra.destroy());

  it.each(['PORT', 'OPS_PORT'])('%s taken: exit 1 with an EADDRINUSE fatal line naming the variable and the port', async (taken) => {
    const ports = { PORT: await freePort(), OPS_PORT: await freePort() };
    const blocker = createServer().listen(ports[taken as keyof typeof ports], '127.0.0.1');
    try {
      const gateway = new GatewayProcess(ports.PORT, ports.OPS_PORT, { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url }, `gateway-${taken}-taken`).start();
      expect(await gateway.child!.exited).toBe(1);
      const lines = readFileSync(gateway.logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { level: string; code?: string; msg: string });
      expect(lines.at(-1)).toMatchObject({ level: 'fatal', code: 'EADDRINUSE' });
      // Before: Node's "listen EADDRINUSE: address already in use 127.0.0.1:<port>", naming no variable.
      expect(lines.at(-1)!.msg).toContain(`${taken}=${ports[taken as keyof typeof ports]} is already in use`);
    } finally {
      blocker.close();
    }
  });
});
