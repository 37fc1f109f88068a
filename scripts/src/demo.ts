/**
 * `make demo`: the whole system on one machine. Uses DATABASE_URL if set, else an embedded
 * Postgres (data in .demo-data/); REDIS_URL if set, else redis-server from PATH on a free
 * port, else Postgres LISTEN mode. Runs migrations, the three services and the simulator,
 * and serves the live scoreboard. Ctrl-C stops everything and leaves no process behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { migrate } from '@matchcast/db';
import { PostgresServer, RedisServer } from '@matchcast/testkit';
import pg from 'pg';

const ROOT = resolve(__dirname, '..', '..');
const COLORS: Record<string, string> = { gateway: '36', 'notify-listener': '35', crawler: '33', demo: '32' };

function say(service: string, line: string): void {
  process.stdout.write(`\x1b[${COLORS[service] ?? '0'}m${service.padEnd(15)}\x1b[0m ${line}\n`);
}

/** Pretty-prints a service's JSON log lines. */
function pipeLogs(service: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      try {
        const { level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
        delete rest.time;
        delete rest.service;
        delete rest.pid;
        delete rest.hostname;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        say(service, `${String(level).padEnd(5)} ${String(msg)}${extra}`);
      } catch {
        say(service, line);
      }
    });
  }
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('demo', 'stopping…');
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))));
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    say('demo', 'stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const postgres = await new PostgresServer({ dataDir: join(ROOT, '.demo-data', 'pg') }).start();
    cleanups.push(() => postgres.stop());
    databaseUrl = postgres.url;
    say('demo', `embedded Postgres on port ${postgres.port} (data in .demo-data/pg)`);
  }
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl && hasRedisServer()) {
    const redis = await new RedisServer().start();
    cleanups.push(() => redis.destroy());
    redisUrl = redis.url;
    say('demo', `redis-server on port ${redis.port}`);
  } else if (!redisUrl) {
    say('demo', 'no REDIS_URL and no redis-server on PATH: gateway runs in Postgres LISTEN mode');
  }

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied = await migrate(client);
  await client.end();
  say('demo', `migrations: ${applied.length ? applied.join(', ') : 'up to date'}`);

  const port = process.env.PORT ?? '8080';
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    DRAIN_DELAY_MS: process.env.DRAIN_DELAY_MS ?? '0',
  };
  const start = (service: string, extra: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [join(ROOT, 'services', service, 'dist', 'main.js')], {
      env: { ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pipeLogs(service, child);
    child.once('exit', (code, signal) => {
      if (!stopping) {
        say('demo', `${service} exited (${signal ?? code}); stopping the demo`);
        void stop(1);
      }
    });
    children.push(child);
  };
  if (redisUrl) start('notify-listener');
  start('gateway', { PORT: port });
  start('crawler');
  say('demo', `live scoreboard: http://localhost:${port}/  (WebSocket ws://localhost:${port}/ws) — Ctrl-C to stop`);
}

main().catch((error: unknown) => {
  console.error('demo failed to start:', error);
  process.exit(1);
});
