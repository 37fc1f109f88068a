import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import { startListener, type RunningListener } from '../src/listener';
import {
  PostgresServer,
  RedisCollector,
  RedisServer,
  currentSeq,
  delay,
  getJson,
  listenerEnv,
  range,
  scoreGoals,
  seed,
  testConfig,
  testLogger,
  withClient,
} from './support';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'services', 'notify-listener', 'dist', 'main.js');

/** Log lines (pino's `msg`) a child wrote so far. */
function messages(logFile: string): string[] {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? '');
}

describe('notify-listener as a process (node dist/main.js)', () => {
  let pgServer: PostgresServer;
  let redisServer: RedisServer;
  let collector: RedisCollector | undefined;
  let standby: RunningListener | undefined;
  const children: ManagedChild[] = [];
  const logDir = mkdtempSync(join(tmpdir(), 'matchcast-listener-test-'));

  const spawnListener = async (id: string) => {
    const port = await freePort();
    const logFile = join(logDir, `${id}.log`);
    const env = { ...process.env, ...listenerEnv(pgServer, redisServer, id, { LISTENER_PORT: String(port), LOG_LEVEL: 'info' }) };
    const child = startChild(process.execPath, [MAIN], logFile, { env });
    children.push(child);
    return { child, port, logFile };
  };

  beforeAll(async () => {
    // Build what the process runs (incremental: quick when up to date).
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', join(ROOT, 'services', 'notify-listener')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    pgServer = await new PostgresServer().start();
    await seed(pgServer.url);
    // Redis gets its port now but starts later: the first listener must cope with Redis being down.
    redisServer = new RedisServer();
    redisServer.port = await freePort();
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGKILL')));
    await standby?.close();
    collector?.close();
    await Promise.all([pgServer?.destroy(), redisServer?.destroy()]);
    if (!process.env.KEEP_TEST_LOGS) rmSync(logDir, { recursive: true, force: true });
  });

  let leader: Awaited<ReturnType<typeof spawnListener>>;

  test('starts without Redis, logs the expected lines, and forwards once Redis is up', async () => {
    leader = await spawnListener('proc-1');
    await waitFor(
      'Redis connection errors in the log',
      async () => {
        const lines = messages(leader.logFile);
        return lines.includes('Connected to PostgreSQL') && lines.some((l) => l.startsWith('Connection error: ')) && lines.some((l) => /^Reconnecting in [\d.]+ seconds\.\.\.$/.test(l))
          ? true
          : undefined;
      },
      10_000,
    );
    expect((await getJson(leader.port, '/readyz')).status).toBe(503);

    await redisServer.start();
    collector = await RedisCollector.start(redisServer.url);
    await waitFor('heartbeats from the process', async () => (collector!.heartbeatsFrom('proc-1').length >= 2 ? true : undefined), 5000);
    expect(messages(leader.logFile)).toContain('Connected to Redis');
    expect((await getJson(leader.port, '/readyz')).status).toBe(200);

    const before = await currentSeq(pgServer.url);
    await scoreGoals(pgServer.url, 10);
    await waitFor('10 events', async () => (collector!.seqs().length >= 10 ? true : undefined), 5000);
    expect(collector!.seqs()).toEqual(range(before + 1, before + 10));
    expect(collector!.events.every((d) => d.envelope.channel === 'scoreboard_change')).toBe(true);
  });

  test('when the leader process is SIGKILLed the standby publishes within ~3 s, without duplicates', async () => {
    standby = await startListener(testConfig(pgServer, redisServer, 'standby'), testLogger()); // polls every 1 s (default)
    await waitFor('the standby', async () => (standby!.status().pg === 'standby' && standby!.status().redis ? true : undefined), 10_000);
    await scoreGoals(pgServer.url, 5);
    await waitFor('15 events', async () => (collector!.seqs().length >= 15 ? true : undefined), 5000);

    const killedAt = Date.now();
    leader.child.signal('SIGKILL');
    await leader.child.exited;
    await waitFor('heartbeats from the standby', async () => (collector!.heartbeatsFrom('standby', killedAt).length > 0 ? true : undefined), 5000);
    const takeover = collector!.heartbeatsFrom('standby', killedAt)[0]!.at - killedAt;
    expect(takeover).toBeLessThan(3000);
    expect(standby.status().leader).toBe(true);

    await scoreGoals(pgServer.url, 5);
    await waitFor('20 events', async () => (collector!.seqs().length >= 20 ? true : undefined), 5000);
    await delay(200);
    const last = await currentSeq(pgServer.url);
    expect(collector!.seqs()).toEqual(range(last - 19, last));
  });

  test('SIGTERM stops a leading process cleanly and hands the lock over', async () => {
    const next = await spawnListener('proc-2');
    await waitFor('proc-2 to stand by', async () => {
      const ready = await getJson(next.port, '/readyz');
      return ready.status === 200 && (JSON.parse(ready.body) as { pg: string }).pg === 'standby' ? true : undefined;
    }, 10_000);
    await standby!.close(); // proc-2 takes the lock
    const closedAt = Date.now();
    await waitFor('heartbeats from proc-2', async () => (collector!.heartbeatsFrom('proc-2', closedAt).length > 0 ? true : undefined), 5000);

    const before = collector!.seqs().length;
    await scoreGoals(pgServer.url, 3);
    await waitFor('3 events via proc-2', async () => (collector!.seqs().length >= before + 3 ? true : undefined), 5000);

    next.child.signal('SIGTERM');
    expect(await next.child.exited).toBe(0);
    const lines = messages(next.logFile);
    expect(lines).toContain('shutting down');
    expect(lines).toContain('stopped');
    const left = await withClient(pgServer.url, async (client) => {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'matchcast-listener%'");
      return rows[0] as { n: number };
    });
    expect(left.n).toBe(0);
  });
});
