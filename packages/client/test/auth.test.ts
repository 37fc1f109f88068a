/**
 * Token lifetimes against a real gateway that requires tokens (AUTH_JWT_SECRET): the client
 * refreshes before expiry over the open connection, so it is never closed; a provider with
 * nothing newer ends in 4001 and the client goes offline with TOKEN_EXPIRED.
 */
import { GatewayProcess, Infra, SECRET, ServiceProcess, freePort, goal, recordingClient, seedMatches, sign, sleep, waitFor, waitForState } from './support';
import type { MatchcastError } from '../src/types';

describe('MatchcastClient token refresh against a real gateway', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await infra.start(false);
    gateway = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url, AUTH_JWT_SECRET: SECRET, AUTH_REQUIRED: 'true' }, 'client-gateway-auth');
    processes.push(gateway.start());
    await gateway.ready();
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('refreshes before expiry and keeps the one connection past several token lifetimes', async () => {
    const [match] = await seedMatches(infra.db, 'ca', 1);
    let issued = 0;
    const provider = jest.fn(() => sign('alice', 4, issued++));
    const { client, received, states, record } = recordingClient({ url: gateway.wsUrl, token: provider, pingIntervalMs: 0 });
    const errors: MatchcastError[] = [];
    client.on('error', (e) => errors.push(e));
    client.subscribe(`match:${match}`, record);
    client.subscribe('user:alice', record);
    client.connect();
    await waitForState(client, 'live');
    await sleep(9_000); // more than two 4 s lifetimes
    await goal(infra.db, match!);
    await waitFor('an event after the first token expired', async () => (received.get(`match:${match}`)?.length ? true : undefined));
    expect(client.diagnostics.connects).toBe(1);
    expect(states).toEqual(['connecting', 'live']);
    expect(provider.mock.calls.length).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
    client.close();
  });

  it('goes offline with TOKEN_EXPIRED when the provider has nothing newer (no retry loop)', async () => {
    const token = await sign('bob', 3);
    const provider = jest.fn(() => token);
    const { client } = recordingClient({ url: gateway.wsUrl, token: provider, pingIntervalMs: 0 });
    const errors: MatchcastError[] = [];
    client.on('error', (e) => errors.push(e));
    client.subscribe('user:bob', () => undefined);
    client.connect();
    await waitForState(client, 'live');
    // Closed at exp plus the gateway's clock tolerance (AUTH_CLOCK_TOLERANCE_MS, 5 s): about 8 s from here.
    await waitForState(client, 'offline', 15_000);
    expect(errors.at(-1)).toMatchObject({ code: 'TOKEN_EXPIRED', closeCode: 4001, fatal: true });
    expect(client.diagnostics.connects).toBe(1);
    const calls = provider.mock.calls.length;
    await sleep(1500);
    expect(provider.mock.calls.length).toBe(calls);
    expect(calls).toBeLessThan(8);
    client.close();
  });

  it('a refused token with a different one from the provider connects with the new one', async () => {
    let first = true;
    const provider = jest.fn(async () => {
      if (first) {
        first = false;
        return 'not-a-jwt';
      }
      return sign('carol', 60);
    });
    const { client } = recordingClient({ url: gateway.wsUrl, token: provider, pingIntervalMs: 0 });
    const errors: MatchcastError[] = [];
    client.on('error', (e) => errors.push(e));
    client.subscribe('user:carol', () => undefined);
    client.connect();
    await waitForState(client, 'live');
    expect(provider).toHaveBeenCalledTimes(2);
    expect(errors).toEqual([]);
    client.close();
  });
});
