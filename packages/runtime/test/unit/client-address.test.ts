import type { IncomingMessage } from 'node:http';
import { addressGroup, clientAddress, clientGroup } from '../../src/http/client-address';

const request = (remoteAddress: string, forwardedFor?: string | string[]) =>
  ({ socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('is the peer address when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), 0)).toBe('10.0.0.5');
    expect(clientAddress(request('::ffff:192.0.2.1'), 0)).toBe('192.0.2.1');
  });

  it('is the entry the outermost trusted proxy appended; entries left of it are the client\'s claim', () => {
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 198.51.100.7'), 1)).toBe('198.51.100.7');
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 198.51.100.7, 10.0.0.9'), 2)).toBe('198.51.100.7');
    expect(clientAddress(request('10.0.0.5', ['6.6.6.6, 198.51.100.7', '10.0.0.9']), 2)).toBe('198.51.100.7');
  });

  it('falls back to the peer when the header is missing, too short for the trusted hops, or not an address', () => {
    expect(clientAddress(request('10.0.0.5'), 1)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', '6.6.6.6'), 2)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', 'not-an-ip'), 1)).toBe('10.0.0.5');
  });
});

describe('clientGroup', () => {
  it('is the address group of the client address', () => {
    expect(clientGroup(request('10.0.0.5', '2001:db8:0:1::5'), 1)).toBe('2001:db8:0:1::/64');
    expect(clientGroup(request('::ffff:192.0.2.1'), 0)).toBe('192.0.2.1');
  });
});

describe('addressGroup', () => {
  it('is an IPv4 address itself, and an IPv6 address\'s /64 however it is written', () => {
    expect(addressGroup('192.0.2.1')).toBe('192.0.2.1');
    for (const address of ['2001:db8:0:1::5', '2001:0db8:0000:0001:ffff:ffff:ffff:ffff', '2001:db8::1:0:0:0:7', '2001:db8:0:1:0:0:1.2.3.4', '2001:db8:0:1:0::1%eth0']) {
      expect(addressGroup(address)).toBe('2001:db8:0:1::/64');
    }
    expect(addressGroup('2001:db8:0:2::5')).toBe('2001:db8:0:2::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressGroup('unknown')).toBe('unknown');
    // An IPv4 client of a dual-stack socket is its IPv4 address, not the /64 of every IPv4 client.
    expect(addressGroup('::ffff:192.0.2.1')).toBe('192.0.2.1');
    // IPv4 hosts translated into IPv6 are each their own client, however the address is written.
    for (const address of ['64:ff9b::192.0.2.1', '64:ff9b::c000:201', '64:ff9b:0:0:0:0:c000:202']) expect(addressGroup(address)).toBe(address);
  });
});
