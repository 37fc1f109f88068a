import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvReader } from '@matchcast/runtime';
import { loadMigrateConfig } from '../../packages/db/src/cli';

const ROOT = join(__dirname, '..', '..');
const SERVICES = ['gateway', 'notify-listener', 'crawler', 'api', 'notifier'] as const;

function variablesRead(service: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadConfig } = require(join(ROOT, 'services', service, 'src', 'config.ts')) as {
    loadConfig(env: EnvReader): unknown;
  };
  const env = new EnvReader({ DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'redis://h:6379' });
  loadConfig(env);
  return [...env.read.keys()];
}

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');

  it.each(SERVICES)('documents every variable the %s reads', (service) => {
    const section = doc.split(/^## /m).find((part) => part.startsWith(service)) ?? '';
    const missing = variablesRead(service).filter((name) => !section.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('documents every variable the migration CLI reads', () => {
    const section = doc.split(/^## /m).find((part) => part.startsWith('Migrations')) ?? '';
    const env = new EnvReader({ DATABASE_URL: 'postgres://u@h/db' });
    loadMigrateConfig(env);
    expect([...env.read.keys()].filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });
});
