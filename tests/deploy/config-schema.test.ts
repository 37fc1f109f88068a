/**
 * The chart's schema and the services agree on every value of `<service>.config`: a value the
 * schema accepts must start the service, and one the service refuses at start-up must be
 * refused by `helm install` already (not found later in a crash-looping pod). Probed with
 * boundaries of the services' ranges and the usual mistakes; each variable is judged alone
 * (a setting it is checked against is set out of its way).
 */
import { join } from 'node:path';
import Ajv from 'ajv';
import { EnvReader } from '@matchcast/runtime';
import { REPO } from './support/manifests';
import { loadSchema, schemaAt } from './support/values';

const SERVICES: Record<string, string> = { gateway: 'gateway', notifyListener: 'notify-listener', crawler: 'crawler', api: 'api', notifier: 'notifier' };

/** Settings other variables are checked against, moved out of the way of the one probed. */
const CONTEXT: Record<string, Record<string, string>> = {
  SHUTDOWN_TIMEOUT_MS: { DRAIN_DELAY_MS: '0' },
  DRAIN_DELAY_MS: { SHUTDOWN_TIMEOUT_MS: '86400000' },
  CRAWLER_HTTP_BACKOFF_MAX_MS: { CRAWLER_HTTP_BACKOFF_BASE_MS: '1' },
  AUTH_REQUIRED: { AUTH_JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes' },
};

const NUMBERS = [
  '0', '1', '2', '9', '10', '49', '50', '63', '64', '65', '99', '100', '127', '128', '200', '201', '255', '256', '999', '1000', '1023', '1024',
  '8192', '8193', '9999', '10000', '10001', '16383', '16384', '59999', '60000', '60001', '65535', '65536', '120000', '120001', '300000',
  '300001', '600000', '600001', '1000000', '1000001', '1048576', '1048577', '3600000', '3600001', '16777216', '16777217', '86399999', '86400000',
  '86400001', '268435456', '268435457', '2147483647', '2147483648', '2592000000', '2592000001', '4294967295', '4294967296', '31536000000',
  '31536000001', '315360000000', '315360000001', '9007199254740991', '9007199254740992', '99999999999999999999',
];
const DECIMALS = ['0.001', '0.01', '0.05', '0.1', '0.5', '0.9', '0.99', '1.0', '1.5', '86399.5', '86400', '86400.0', '86400.5', '4999.9', '5000', '5000.5', '9999.5', '10000.0', '10000.5'];
const MISTAKES = ['-1', '1e3', '0x10', '.5', '5.', 'NaN', 'abc', 'yes', 'maybe'];
/** Listen addresses (HOST): IPs, names, and names the resolver would read as numbers. */
const HOSTS = [
  '0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1%eth0', '::ffff:127.0.0.1', '1.2.3.04', '256.1.1.1', '[::1]', '::1%', 'localhost', 'api',
  'my-host.example.com', 'Infinity', 'a.0x', '127.1', '0x7f.1', 'host.0X7F', 'host.08', 'host.1e3', 'a.1e999', 'a.1E-3', 'a.0b101', 'a.0o17',
  'a..b', '.a', 'a.', '-a', 'a-', 'a_b', 'exa mple', 'a'.repeat(63), 'a'.repeat(64), `${'a'.repeat(63)}.`.repeat(3) + 'a'.repeat(61), `${'a'.repeat(63)}.`.repeat(3) + 'a'.repeat(62),
];
/** URLs and origin lists (AUTH_JWKS_URL, ALLOWED_ORIGINS). */
const URLS = ['https://idp.example.com/.well-known/jwks.json', 'http://localhost:3000', 'https://a.example,http://b.example:8080', '*', 'example.com', 'https://', 'file:///x', 'javascript:x'];
const PROBES = [...NUMBERS, ...DECIMALS, ...MISTAKES, ...HOSTS, ...URLS];

function accepts(service: string, name: string, value: string): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadConfig } = require(join(REPO, 'services', service, 'src', 'config')) as { loadConfig: (env: EnvReader) => unknown };
  try {
    loadConfig(new EnvReader({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h:6379', ...CONTEXT[name], [name]: value }));
    return true;
  } catch {
    return false;
  }
}

// Every variable is probed, also one the schema leaves free: a value the service refuses must be
// refused by the schema too (HOST was free, and '127.1' passed helm install, then crash-looped).
describe.each(Object.entries(SERVICES))('chart schema vs %s config', (valuesKey, service) => {
  const config = schemaAt(loadSchema(), `${valuesKey}.config`)?.properties as Record<string, { pattern?: string; enum?: string[]; anyOf?: unknown[] }>;
  const ajv = new Ajv({ strict: true });

  it.each(Object.keys(config))('%s', (name) => {
    // The variable's whole schema (pattern, enum, anyOf, maxLength, not), as helm install checks it.
    const schemaAccepts = ajv.compile(config[name]!) as (value: string) => boolean;
    const disagreements = PROBES.filter((value) => schemaAccepts(value) !== accepts(service, name, value)).map(
      (value) => `${JSON.stringify(value)}: schema ${schemaAccepts(value) ? 'accepts' : 'refuses'}, service ${accepts(service, name, value) ? 'accepts' : 'refuses'}`,
    );
    expect(disagreements).toEqual([]);
  });
});
