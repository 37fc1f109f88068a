import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:net';
import { listen } from '../../src';

/** A server whose listen() fails with `code`, as Node reports it (an 'error' event). */
function failingServer(code: string): Server {
  const server = new EventEmitter() as unknown as Server;
  server.listen = (() => {
    process.nextTick(() => server.emit('error', Object.assign(new Error(`listen ${code}`), { code })));
    return server;
  }) as Server['listen'];
  return server;
}

const GATEWAY = { port: 8080, host: 'gw.example', portVariable: 'PORT', hostVariable: 'HOST' };

describe('listen', () => {
  // Before: the fatal line was Node's "listen EADDRINUSE: address already in use 127.0.0.1:…",
  // the same for every port of every service, naming no variable.
  it('names the port variable when the port is taken, keeping the system code', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const failure = listen(createServer(), { port, host: '127.0.0.1', portVariable: 'OPS_PORT', hostVariable: 'HOST' });
      await expect(failure).rejects.toMatchObject({ code: 'EADDRINUSE', message: `cannot listen: OPS_PORT=${port} is already in use on 127.0.0.1 (EADDRINUSE): another process holds it` });
    } finally {
      holder.close();
    }
  });

  // Before: "getaddrinfo ENOTFOUND gw.example", "listen EACCES: permission denied 0.0.0.0:80".
  it.each([
    ['EACCES', 'cannot listen: PORT=8080 on gw.example is not allowed to this process (EACCES): ports below 1024 need privileges'],
    ['ENOTFOUND', 'cannot listen: HOST=gw.example does not resolve to an address (ENOTFOUND)'],
    ['EAI_AGAIN', 'cannot listen: HOST=gw.example does not resolve to an address (EAI_AGAIN)'],
    ['EADDRNOTAVAIL', 'cannot listen: HOST=gw.example is not an address of this machine (EADDRNOTAVAIL)'],
  ])('%s names the variable at fault', async (code, message) => {
    await expect(listen(failingServer(code), GATEWAY)).rejects.toMatchObject({ name: 'ListenError', code, message });
  });

  it('names the address alone where it is not configurable', async () => {
    await expect(listen(failingServer('EADDRINUSE'), { port: 8082 })).rejects.toThrow('cannot listen: port 8082 is already in use on 0.0.0.0 (EADDRINUSE): another process holds it');
  });
});
