/**
 * The API as it runs in production: `node dist/main.js` as a child process, configured by its
 * environment — start, serve, readiness that follows the database, SIGTERM, bad configuration.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import type pg from 'pg';
import { apiEnv, call, startDatabase, startTestApi, token, type PostgresServer } from './support';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'services', 'api', 'dist', 'main.js');

function logLines(file: string): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}

describe('api as a process (node dist/main.js)', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let apiUrl: string;
  const children: ManagedChild[] = [];
  const logDir = mkdtempSync(join(tmpdir(), 'matchcast-api-test-'));

  const spawnApi = async (name: string, extra: Record<string, string> = {}) => {
    const [port, opsPort] = [await freePort(), await freePort()];
    const logFile = join(logDir, `${name}.log`);
    const env = { ...process.env, ...apiEnv(apiUrl, { PORT: String(port), OPS_PORT: String(opsPort), LOG_LEVEL: 'info', ...extra }) };
    const child = startChild(process.execPath, [MAIN], logFile, { env });
    children.push(child);
    return { child, logFile, url: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}` };
  };

  beforeAll(async () => {
    // Build what the process runs (incremental: quick when up to date).
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', join(ROOT, 'services', 'api')], { cwd: ROOT, stdio: 'inherit' });
    ({ server, admin, apiUrl } = await startDatabase());
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGKILL')));
    await admin?.end();
    await server?.destroy();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('serves, and on SIGTERM finishes and exits 0', async () => {
    const api = await spawnApi('main');
    await waitFor('api ready', async () => ((await fetch(`${api.opsUrl}/readyz`)).status === 200 ? true : undefined), 15_000);
    expect((await call(api.url, 'GET', '/api/me', { token: await token('alice') })).body).toEqual({ user: 'alice', roles: [] });
    api.child.signal('SIGTERM');
    expect(await api.child.exited).toBe(0);
    const messages = logLines(api.logFile).map((line) => line.msg);
    expect(messages).toEqual(expect.arrayContaining(['api listening', 'shutting down', 'stopped']));
    // The secret never reaches the log.
    expect(readFileSync(api.logFile, 'utf8')).not.toContain(apiEnv('').AUTH_JWT_SECRET);
  });

  it('exits 1 with the variable named when the configuration is bad', async () => {
    const api = await spawnApi('bad-config', { DEV_SIGN_IN: 'true', AUTH_JWT_SECRET: '' });
    expect(await api.child.exited).toBe(1);
    const fatal = logLines(api.logFile).find((line) => line.level === 'fatal');
    expect(fatal).toMatchObject({ code: 'CONFIG_INVALID', msg: expect.stringContaining('DEV_SIGN_IN') });
  });

  it('on close, finishes a request in flight and does not wait for idle keep-alive sockets', async () => {
    const api = await startTestApi(apiUrl, { DEV_SIGN_IN: 'true' });
    // An idle keep-alive connection (answered, then left open) and a request whose body is still arriving.
    const idle = connect(api.port, '127.0.0.1');
    idle.on('error', () => undefined);
    idle.write(`GET /api/dev/users HTTP/1.1\r\nHost: x\r\n\r\n`);
    const slow = connect(api.port, '127.0.0.1');
    let answer = '';
    slow.on('data', (chunk) => (answer += chunk.toString()));
    const slowClosed = new Promise((resolve) => slow.once('close', resolve));
    const body = '{"user":"alice"}';
    slow.write(`POST /api/dev/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const closed = api.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    slow.write(body.slice(5));
    await closed;
    expect(Date.now() - started).toBeLessThan(3000);
    await slowClosed; // the server closed it after answering
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(answer).toContain('"user":"alice"');
    idle.destroy();
    slow.destroy();
  });

  it('starts without a database and is not ready until it can reach one; requests get 503 UNAVAILABLE', async () => {
    const port = await freePort();
    const api = await startTestApi(`postgres://nobody:pw@127.0.0.1:${port}/none`);
    try {
      const ready = await call(api.opsUrl, 'GET', '/readyz');
      expect(ready).toMatchObject({ status: 503, body: { status: 'unavailable', database: 'down' } });
      expect((await call(api.opsUrl, 'GET', '/healthz')).status).toBe(200);
      const answer = await call(api.url, 'GET', '/api/notifications/unread-count', { token: await token('alice') });
      expect(answer).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' } });
    } finally {
      await api.close();
    }
  });

  // Last: it stops the shared database.
  it('readiness follows the database: 503 while it is down, 200 again once it is back', async () => {
    const api = await startTestApi(apiUrl);
    const alice = await token('alice');
    const readiness = async () => (await call(api.opsUrl, 'GET', '/readyz')).status;
    try {
      expect(await readiness()).toBe(200);
      await server.stop();
      await waitFor('not ready', async () => ((await readiness()) === 503 ? true : undefined), 15_000);
      expect((await call(api.url, 'GET', '/api/notifications/unread-count', { token: alice })).body.error).toBe('UNAVAILABLE');
      await server.start();
      await waitFor('ready again', async () => ((await readiness()) === 200 ? true : undefined), 15_000);
      expect(await call(api.url, 'GET', '/api/notifications/unread-count', { token: alice })).toMatchObject({ status: 200, body: { unread_count: 0 } });
    } finally {
      await api.close();
    }
  });
});
