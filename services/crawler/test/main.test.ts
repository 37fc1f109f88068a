import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { waitFor } from '@matchcast/testkit';
import { loadConfig } from '../src';
import { start } from '../src/main';
import { startDatabase, type TestDatabase } from './db';

const SAMPLE = join(__dirname, '..', 'feeds', 'sample.jsonl');
const MAIN = join(__dirname, '..', 'dist', 'main.js');

let db: TestDatabase;
beforeAll(async () => {
  db = await startDatabase();
});
afterAll(() => db?.close());

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

describe('crawler process', () => {
  it('start(): replays a feed, serves /healthz /readyz /metrics, and closes cleanly', async () => {
    const config = loadConfig(
      new EnvReader({
        DATABASE_URL: db.server.url,
        CRAWLER_SOURCE: 'replay',
        CRAWLER_REPLAY_FILE: SAMPLE,
        CRAWLER_REPLAY_SPEED: '0',
        CRAWLER_ID_PREFIX: 'app_',
        CRAWLER_PORT: '0',
      }),
    );
    const app = await start(config, createLogger('crawler', 'silent'));
    cleanup = () => void app.close();
    const stats = await app.done;
    expect(stats).toMatchObject({ committed: 280, rejected: 0 });
    const base = `http://127.0.0.1:${app.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503); // a finished replay writes no more
    expect(await ready.json()).toMatchObject({ state: 'stopped', committed: 280 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/matchcast_crawler_transactions_total\{op="goal",service="crawler"\} 6\b/);
    expect(metrics).toMatch(/matchcast_crawler_errors_total\{kind="rejected",service="crawler"\} 0\b/);
    expect(metrics).toMatch(/matchcast_crawler_transaction_duration_seconds_count\{[^}]*op="clock"[^}]*\} [1-9]/);
    await app.close();
    await app.close();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('dist/main.js: runs the simulator until SIGTERM, then exits 0', async () => {
    expect(existsSync(MAIN)).toBe(true); // built by `pnpm exec tsc -b` (the test script runs it first)
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.server.url,
        CRAWLER_EVENTS_PER_SECOND: '200',
        CRAWLER_MATCH_MINUTE_MS: '20',
        CRAWLER_ID_PREFIX: 'sig_',
        CRAWLER_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    cleanup = () => child.kill('SIGKILL');
    await waitFor('the crawler to write goals', async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM football_event WHERE match_id LIKE 'sig_%'`);
      return rows[0].n > 0 ? true : undefined;
    }, 15_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = output.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; level: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['crawler started', 'shutting down', 'crawler finished', 'stopped']));
    expect(lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});
