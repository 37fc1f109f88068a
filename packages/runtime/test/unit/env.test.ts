import { ConfigError, EnvReader } from '../../src/env';

const reader = (env: Record<string, string>) => new EnvReader(env);

describe('EnvReader', () => {
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
});
