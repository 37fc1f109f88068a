import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import { PostgresServer, RedisServer, getJson, listenerEnv, seed } from './support';

const ROOT = join(__dirname, '..', '..', '..');
const SUPERVISE = join(ROOT, 'services', 'notify-listener', 'dist', 'supervise.js');

/** Pids of the listener processes the supervisor started, in order (from its log lines). */
function startedPids(logFile: string): number[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; pid?: number; name?: string })
    .filter((record) => record.msg === 'notify-listener process started')
    .map((record) => record.pid!);
}

describe('notify-listener supervised (node dist/supervise.js, the sidecar placements)', () => {
  let pgServer: PostgresServer;
  let redisServer: RedisServer;
  let supervisor: ManagedChild | undefined;
  const logDir = mkdtempSync(join(tmpdir(), 'matchcast-supervise-test-'));

  beforeAll(async () => {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', join(ROOT, 'services', 'notify-listener')], { cwd: ROOT, stdio: 'pipe' });
    pgServer = await new PostgresServer().start();
    await seed(pgServer.url);
    redisServer = await new RedisServer().start();
  });

  afterAll(async () => {
    await supervisor?.stop('SIGKILL');
    await Promise.all([pgServer?.destroy(), redisServer?.destroy()]);
    if (!process.env.KEEP_TEST_LOGS) rmSync(logDir, { recursive: true, force: true });
  });

  test('a killed listener process is started again inside the container; SIGTERM is passed on and ends both', async () => {
    const port = await freePort();
    const logFile = join(logDir, 'supervised.log');
    const env = { ...process.env, ...listenerEnv(pgServer, redisServer, 'supervised', { LISTENER_PORT: String(port), LOG_LEVEL: 'info' }) };
    supervisor = startChild(process.execPath, [SUPERVISE], logFile, { env });
    const ready = async () => ((await getJson(port, '/readyz').catch(() => undefined))?.status === 200 ? true : undefined);
    await waitFor('the supervised listener ready', ready, 15_000);
    const [first] = startedPids(logFile);
    expect(first).toBeGreaterThan(0);
    expect(first).not.toBe(supervisor.process.pid);

    // The crash (or an out-of-memory kill): only the listener process dies.
    process.kill(first!, 'SIGKILL');
    await waitFor('a second listener process', async () => (startedPids(logFile).length === 2 ? true : undefined), 10_000);
    await waitFor('the restarted listener ready', ready, 15_000);
    const [, second] = startedPids(logFile);
    expect(second).not.toBe(first);
    expect(supervisor.process.exitCode).toBeNull(); // the container's process never went away
    expect(readFileSync(logFile, 'utf8')).toContain('notify-listener process exited; restarting it inside its container');

    // A planned stop: the listener gets the signal, hands over, and the supervisor exits with its code.
    supervisor.signal('SIGTERM');
    expect(await supervisor.exited).toBe(0);
    expect(() => process.kill(second!, 0)).toThrow();
    expect(readFileSync(logFile, 'utf8')).toContain('PostgreSQL LISTEN connection closed');
  }, 60_000);

  // Before: the supervisor started, and restarted the listener every 1-10 s for good, each start
  // ending in CONFIG_INVALID; the container (and its gateway pod) stayed up and ready, so a bad
  // value rolled out to every pod and left each gateway on Postgres LISTEN.
  test('a configuration the listener refuses ends the supervisor at start, naming the variable', async () => {
    const logFile = join(logDir, 'bad-config.log');
    const env = { ...process.env, ...listenerEnv(pgServer, redisServer, 'bad-config', { LISTENER_PORT: String(await freePort()), LISTENER_ID: 'l'.repeat(201) }) };
    supervisor = startChild(process.execPath, [SUPERVISE], logFile, { env });
    const code = await Promise.race([supervisor.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 5000))]);
    expect(code).toBe(1);
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('invalid configuration: LISTENER_ID must be at most 200 characters');
    expect(startedPids(logFile)).toEqual([]);
  }, 30_000);
});
