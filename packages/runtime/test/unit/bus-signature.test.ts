import { InvalidBusMessage } from '@matchcast/protocol';
import { BusSignature, ConfigError, EnvReader } from '@matchcast/runtime';

const KEY = 'k'.repeat(32);
const OTHER = 'o'.repeat(32);
const signature = (keys: string) => BusSignature.fromEnv(new EnvReader({ BUS_SIGNING_KEYS: keys }))!;

describe('BusSignature', () => {
  it('opens what it signed, on the same channel, with any of its keys', () => {
    const signed = signature(KEY).sign('c', '{"a":1}');
    expect(signed).toMatch(/^mc1\.[A-Za-z0-9_-]{43}\.\{"a":1\}$/);
    expect(signature(KEY).open('c', signed)).toBe('{"a":1}');
    expect(signature(`${OTHER},${KEY}`).open('c', signed)).toBe('{"a":1}');
  });

  it.each([
    ['unsigned', '{"a":1}', /not signed/],
    ['another key', signature(OTHER).sign('c', '{"a":1}'), /does not match/],
    ['another channel', signature(KEY).sign('d', '{"a":1}'), /does not match/],
    ['the message changed', signature(KEY).sign('c', '{"a":1}').replace('1}', '2}'), /does not match/],
    ['a short signature', 'mc1.abc.{"a":1}', /malformed/],
    ['nothing after the prefix', 'mc1.', /malformed/],
  ])('refuses %s', (_case, message, reason) => {
    expect(() => signature(KEY).open('c', message)).toThrow(InvalidBusMessage);
    expect(() => signature(KEY).open('c', message)).toThrow(reason);
  });

  it('is off without keys, and refuses a key under 32 bytes', () => {
    expect(BusSignature.fromEnv(new EnvReader({}))).toBeUndefined();
    expect(BusSignature.fromEnv(new EnvReader({ BUS_SIGNING_KEYS: ' , ' }))).toBeUndefined();
    expect(() => signature(`${KEY},${'s'.repeat(31)}`)).toThrow(ConfigError);
  });
});
