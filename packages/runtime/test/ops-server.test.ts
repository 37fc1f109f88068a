import { get } from 'node:http';
import { connect } from 'node:net';
import { bareConnections, waitFor } from '@matchcast/testkit';
import { Gauge, Registry } from 'prom-client';
import { OPS_MAX_CONNECTIONS_PER_ADDRESS, createLogger, listenOps, opsRoutes, type OpsServer } from '../src';

const logger = createLogger('ops-test', 'silent');

/** Sends `request` as it is and resolves with everything the server answered before closing. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
  });
}

/** The status line's code and the JSON body's `error`. */
function coded(answer: string): [string | undefined, unknown] {
  const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  let error: unknown;
  try {
    error = (JSON.parse(body) as { error?: unknown }).error;
  } catch {
    error = `not JSON: ${body.slice(0, 60)}`;
  }
  return [answer.split(' ')[1], error];
}

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
    const ops = await listenOps(opsRoutes(new Registry(), () => ({ ok: true }), () => ({ ok: true })), { port: 0, host }, logger);
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

  // Before: an unknown path was express's HTML page, a failed /metrics its HTML 500, and a request
  // Node could not parse its bare `400 Bad Request` with no body, where every client port answers a code.
  it('answers what it does not serve with the coded JSON body, as the client ports do', async () => {
    const registry = new Registry();
    new Gauge({ name: 'ops_test_broken', help: 'a collect that fails', registers: [registry], collect: () => { throw new Error('broken'); } });
    const ops = await listenOps(opsRoutes(registry, () => ({ ok: true }), () => ({ ok: true })), { port: 0, host: '127.0.0.1' }, logger);
    servers.push(ops);
    const ask = (request: string) => raw(ops.port, request);
    expect(coded(await ask('GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toEqual(['404', 'NOT_FOUND']);
    expect(coded(await ask('POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toEqual(['404', 'NOT_FOUND']);
    expect(coded(await ask('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toEqual(['500', 'INTERNAL']);
    expect(coded(await ask('GARBAGE\r\n\r\n'))).toEqual(['400', 'BAD_REQUEST']);
    expect(coded(await ask('GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'))).toEqual(['400', 'BAD_REQUEST']);
    expect(coded(await ask('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toEqual(['200', undefined]);
  });
});
