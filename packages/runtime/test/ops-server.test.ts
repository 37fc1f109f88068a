import { get } from 'node:http';
import { bareConnections, waitFor } from '@matchcast/testkit';
import { Registry } from 'prom-client';
import { OPS_MAX_CONNECTIONS_PER_ADDRESS, listenOps, opsRoutes, type OpsServer } from '../src';

/** GET /healthz from another loopback address than the flood's. */
function healthzFrom(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', () => resolve(0));
  });
}

describe('ops server', () => {
  const servers: OpsServer[] = [];

  afterAll(() => Promise.all(servers.map((ops) => ops.close())));

  // Before: the ops ports took any number of connections (held 10 s each by the headers
  // timeout): one host held 9,000 of the gateway's descriptors through its ops port, the same
  // process's descriptors its clients need.
  it.each([
    ['an IPv4 listener', '127.0.0.1'],
    // Dual stack (HOST=::): IPv4 callers come as ::ffff:<address>, each still its own address.
    ['a dual-stack listener', '::'],
  ])('closes a connection past OPS_MAX_CONNECTIONS_PER_ADDRESS from one address at once; another address is answered (%s)', async (_kind, host) => {
    const ops = await listenOps(opsRoutes(new Registry(), () => ({ ok: true }), () => ({ ok: true })), { port: 0, host });
    servers.push(ops);
    const extra = 8;
    const flood = await bareConnections(ops.port, OPS_MAX_CONNECTIONS_PER_ADDRESS + extra);
    try {
      await waitFor('the connections past the cap closed', async () => (flood.closedByServer() >= extra ? true : undefined), 5000, 20);
      expect(flood.closedByServer()).toBe(extra);
      expect(await healthzFrom(ops.port, '127.0.0.2')).toBe(200);
    } finally {
      flood.destroy();
    }
    await waitFor('the address served again once its connections closed', async () => ((await healthzFrom(ops.port, '127.0.0.1')) === 200 ? true : undefined), 5000, 50);
  });
});
