/**
 * Every service's start-up ends a bad setting with one fatal JSON line naming the variable
 * and exit code 1 — never an unhandled rejection or a stack trace from a library.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

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
