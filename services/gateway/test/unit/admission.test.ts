import type { IncomingMessage } from 'node:http';
import { TokenVerifier } from '@matchcast/auth';
import { admit, type AdmissionRules } from '../../src/transport/admission';
import { ConnectionLimits } from '../../src/transport/connection-limits';
import { OriginPolicy } from '../../src/transport/origins';

const request = (headers: Record<string, string>) => ({ headers, socket: { remoteAddress: '10.0.0.1' } }) as unknown as IncomingMessage;

function rules(overrides: Partial<AdmissionRules> = {}): AdmissionRules & { admitted: number } {
  const counted = {
    admitted: 0,
    isDraining: () => false,
    connectionCount: () => 0,
    maxConnections: 10,
    trustedProxyHops: 0,
    origins: new OriginPolicy(['https://app.example']),
    limits: new ConnectionLimits({ maxPerAddress: 2, perAddressPerSecond: 0 }),
    verifier: new TokenVerifier({
      jwtSecret: 'a-secret-of-at-least-32-characters!!',
      keys: undefined,
      jwksUrl: undefined,
      issuer: undefined,
      audience: undefined,
      clockToleranceMs: 0,
      rolesClaim: 'roles',
      requireToken: false,
    }),
    onAdmitted: () => counted.admitted++,
    ...overrides,
  };
  return counted;
}

describe('admit', () => {
  it('tells onAdmitted of each connection let in, and of none refused', async () => {
    const door = rules();
    const allowed = request({ origin: 'https://app.example' });
    await admit(door, allowed, null);
    expect(door.admitted).toBe(1);

    const refusals: Array<[IncomingMessage, string | null, string]> = [
      [request({ origin: 'https://evil.example' }), null, 'ORIGIN_NOT_ALLOWED'],
      [allowed, 'not-a-token', 'UNAUTHORIZED'],
    ];
    for (const [req, token, code] of refusals) await expect(admit(door, req, token)).rejects.toMatchObject({ code });
    await admit(door, allowed, null); // the second of two per address
    await expect(admit(door, allowed, null)).rejects.toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    await expect(admit(rules({ ...door, isDraining: () => true }), allowed, null)).rejects.toMatchObject({ code: 'SERVER_DRAINING' });
    expect(door.admitted).toBe(2);
  });
});
