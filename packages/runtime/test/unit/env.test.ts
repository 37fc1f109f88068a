import { ConfigError, EnvReader } from '../../src/env';

const reader = (env: Record<string, string>) => new EnvReader(env);

describe('EnvReader', () => {
  // Before: HOST was any string; a bad one failed only at listen() (getaddrinfo ENOTFOUND), without the variable's name.
  it.each(['no such host!', 'http://x', 'a..b', '-x', 'host:8080', '[::1]'])('host refuses %j, naming the variable', (value) => {
    expect(() => reader({ HOST: value }).host('HOST', '0.0.0.0')).toThrow(`invalid configuration: HOST must be an IP address or a host name, got "${value}"`);
  });

  // Before: taken as host names. The resolver reads '99999', '127.1', '0x7f.1' as IPv4 numbers
  // (0.1.134.159: EADDRNOTAVAIL at listen; 127.0.0.1: not what was meant) and '1e3' failed at
  // listen() with getaddrinfo ENOTFOUND, naming the value but not HOST.
  it.each(['99999', '0', '1e3', '127.1', '0x7f.1', '10.0.0.256', 'gateway.123'])('host refuses %j, a number where a name ends', (value) => {
    expect(() => reader({ HOST: value }).host('HOST', '0.0.0.0')).toThrow(`invalid configuration: HOST must be an IP address or a host name, got "${value}"`);
  });

  // Before: taken, Number('1e999') being Infinity, not a finite number; the chart's schema refuses
  // it with the same pattern.
  it.each(['a.1e999', 'host.1E-3', 'host.0b101', 'host.0o17'])('host refuses %j, a number in another form', (value) => {
    expect(() => reader({ HOST: value }).host('HOST', '0.0.0.0')).toThrow(`invalid configuration: HOST must be an IP address or a host name, got "${value}"`);
  });

  it.each(['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'gateway.matchcast.svc.cluster.local', 'db1', '1db', 'node-1.example'])('host takes %j', (value) => {
    expect(reader({ HOST: value }).host('HOST', '0.0.0.0')).toBe(value);
  });

  // Before: taken, and pg / ioredis connected to a local default (a Postgres on the node's own
  // socket, or retried ECONNREFUSED on localhost for ever, naming no variable).
  it.each(['postgres://', 'postgres:///matchcast', 'postgresql:matchcast'])('url refuses %j, which names no host', (value) => {
    expect(() => reader({ DATABASE_URL: value }).requiredUrl('DATABASE_URL', ['postgres:', 'postgresql:'])).toThrow('invalid configuration: DATABASE_URL must name a host');
  });

  it.each(['redis://', 'redis:', 'redis:///0'])('url refuses %j, which names no host', (value) => {
    expect(() => reader({ REDIS_URL: value }).url('REDIS_URL', ['redis:', 'rediss:'])).toThrow('invalid configuration: REDIS_URL must name a host');
  });

  it.each(['postgres://u:p@db:5432/matchcast', 'postgres:///matchcast?host=/cloudsql/instance'])('url takes %j', (value) => {
    expect(reader({ DATABASE_URL: value }).requiredUrl('DATABASE_URL', ['postgres:', 'postgresql:'])).toBe(value);
  });

  // Before: Number() took these (0x1e = 30, 1e3 = 1000) where the chart's schema refuses them.
  it.each(['0x1e', '0b11', '1e3', '.5', '5.', 'NaN', 'Infinity', '1,5'])('number refuses %j, naming the variable', (value) => {
    expect(() => reader({ RATIO: value }).number('RATIO', 1)).toThrow(`invalid configuration: RATIO must be a decimal number, got "${value}"`);
  });

  it('number takes plain decimals, and the seconds aliases of durations too', () => {
    expect(reader({ RATIO: ' 0.25 ' }).number('RATIO', 1)).toBe(0.25);
    expect(reader({ WS_PING_INTERVAL: '2.5' }).durationMs('WS_PING_INTERVAL_MS', 1000, { secondsAlias: 'WS_PING_INTERVAL' })).toBe(2500);
    expect(() => reader({ WS_PING_INTERVAL: '0x1e' }).durationMs('WS_PING_INTERVAL_MS', 1000, { secondsAlias: 'WS_PING_INTERVAL' })).toThrow(/WS_PING_INTERVAL must be a decimal number/);
  });

  describe('int with zeroIsOff', () => {
    it('takes 0 (off) and values in range, and refuses what is between', () => {
      expect(reader({ X_MS: '0' }).int('X_MS', 5000, { min: 1000, zeroIsOff: true })).toBe(0);
      expect(reader({ X_MS: '1000' }).int('X_MS', 5000, { min: 1000, zeroIsOff: true })).toBe(1000);
      expect(() => reader({ X_MS: '5' }).int('X_MS', 5000, { min: 1000, max: 2000, zeroIsOff: true })).toThrow(
        new ConfigError('X_MS', 'must be 0 (off) or between 1000 and 2000, got 5'),
      );
    });

    it('refuses 0 without it', () => {
      expect(() => reader({ X_MS: '0' }).int('X_MS', 5000, { min: 1000 })).toThrow('invalid configuration: X_MS must be between 1000 and');
    });
  });

  describe('list with a pattern and nonEmpty', () => {
    const options = { pattern: /^[a-z]+$/, nonEmpty: true };

    it('trims entries and drops empty ones', () => {
      expect(reader({ L: ' a , b,,' }).list('L', ['z'], options)).toEqual(['a', 'b']);
      expect(reader({}).list('L', ['z'], options)).toEqual(['z']);
    });

    it('refuses a value that names nothing', () => {
      expect(() => reader({ L: ' , ' }).list('L', ['z'], options)).toThrow('invalid configuration: L must name at least one entry, got ","');
    });

    it('refuses an entry that does not match, naming it', () => {
      expect(() => reader({ L: 'a,B-2' }).list('L', ['z'], options)).toThrow('invalid configuration: L has an entry that does not match ^[a-z]+$: "B-2"');
    });

    it('without options keeps the old behaviour (an empty list is allowed)', () => {
      expect(reader({ L: ',' }).list('L', ['z'])).toEqual([]);
    });
  });
});
