/**
 * The publishable build: `pnpm run build` gives CommonJS and ES module outputs that load
 * through the package's "exports", with no runtime dependency (no @matchcast/protocol, no ws).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGE = join(__dirname, '..');

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? jsFiles(join(dir, entry.name)) : entry.name.endsWith('.js') ? [join(dir, entry.name)] : [],
  );
}

describe('@matchcast/client build', () => {
  beforeAll(() => {
    execFileSync('pnpm', ['run', 'build'], { cwd: PACKAGE, stdio: 'pipe' });
  }, 120_000);

  it('has no runtime import of another package', () => {
    const files = [...jsFiles(join(PACKAGE, 'dist', 'cjs')), ...jsFiles(join(PACKAGE, 'dist', 'esm'))];
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const specifiers = [...text.matchAll(/(?:require\(|from\s+|import\()\s*["']([^"']+)["']/g)].map((m) => m[1]!);
      expect({ file, external: specifiers.filter((s) => !s.startsWith('./')) }).toEqual({ file, external: [] });
    }
  });

  it('loads with require and with import through "exports"', () => {
    const script = `
      const cjs = require('@matchcast/client');
      import('@matchcast/client').then((esm) => {
        console.log(JSON.stringify([typeof cjs.MatchcastClient, typeof cjs.createScoreboard, typeof esm.MatchcastClient, typeof esm.createScoreboard, esm.MatchcastClient === cjs.MatchcastClient]));
      });`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: PACKAGE, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function', 'function', false]);
  });
});
