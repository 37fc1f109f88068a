/**
 * limitPipelining on a real server (createHttpServer): whatever a connection pipelines, at most
 * MAX_PIPELINED_REQUESTS of its requests reach the handlers at once, and the connection past that
 * is closed without an error raised or a client error reported; up to the limit, every request is
 * answered. Counted, not timed: on a loaded machine Node takes seconds to parse the rest of the
 * chunk a flood sent (it goes on after the close), which says nothing about the limiter.
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { waitFor } from '@matchcast/testkit';
import { MAX_PIPELINED_REQUESTS, createHttpServer, listen } from '../src';

const REQUEST = 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n';

/** A server whose handler answers `delay` ms late (a database read) or never, counting the requests it is handed. */
async function slowServer(delay: number | 'never' = 50): Promise<{ server: Server; port: number; handled: () => number; clientErrors: Error[] }> {
  let handled = 0;
  const clientErrors: Error[] = [];
  const server = createHttpServer((_req, res) => {
    handled++;
    if (delay !== 'never') setTimeout(() => res.end('ok'), delay);
  });
  server.on('clientError', (error: Error, socket) => (clientErrors.push(error), socket.destroy()));
  await listen(server, { port: 0, host: '127.0.0.1' });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, handled: () => handled, clientErrors };
}

/** Pipelines `batches` of requests on one connection, each sent once the one before is answered; counts answers, and whether it was closed. */
function pipelined(port: number, batches: number[], timeoutMs = 15_000): Promise<{ answers: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answers = 0;
    let expected = 0;
    let batch = 0;
    const send = () => {
      expected += batches[batch]!;
      socket.write(REQUEST.repeat(batches[batch++]!));
    };
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers, closed });
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      answers += chunk.toString().match(/HTTP\/1\.1 200 /g)?.length ?? 0;
      if (answers < expected) return;
      if (batch < batches.length) send();
      else done(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
    const timer = setTimeout(() => done(false), timeoutMs);
  });
}

describe('limitPipelining', () => {
  let server: Server | undefined;
  afterEach(() => new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined))));

  it(`answers ${MAX_PIPELINED_REQUESTS} requests pipelined at once, and as many again once they are answered, on one open connection`, async () => {
    const slow = await slowServer();
    server = slow.server;
    expect(await pipelined(slow.port, [MAX_PIPELINED_REQUESTS, MAX_PIPELINED_REQUESTS])).toEqual({ answers: 2 * MAX_PIPELINED_REQUESTS, closed: false });
    expect(slow.handled()).toBe(2 * MAX_PIPELINED_REQUESTS);
  });

  it(`hands no more than ${MAX_PIPELINED_REQUESTS} of a flood's requests to the handlers, closes the connection with nothing raised, and serves the next client`, async () => {
    const slow = await slowServer();
    server = slow.server;
    // Closed in a few hundred ms on a quiet machine; parsing what the floods sent took 12 s with both cores busy.
    const floods = await Promise.all(Array.from({ length: 4 }, () => pipelined(slow.port, [5000], 45_000)));
    expect(floods.map((flood) => flood.closed)).toEqual([true, true, true, true]);
    // The handlers' late answers (50 ms on) go to closed sockets: nothing must throw or be reported.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(slow.handled()).toBe(4 * MAX_PIPELINED_REQUESTS);
    expect(slow.clientErrors).toEqual([]);
    expect(await pipelined(slow.port, [1])).toEqual({ answers: 1, closed: false });
  }, 90_000);

  it(`closes a connection at its ${MAX_PIPELINED_REQUESTS + 1}th request in flight, also when it arrives on its own`, async () => {
    const slow = await slowServer('never'); // none answered: all of them stay in flight, however slow the machine
    server = slow.server;
    const socket = connect(slow.port, '127.0.0.1');
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.on('close', () => resolve('closed')));
    socket.write(REQUEST.repeat(MAX_PIPELINED_REQUESTS));
    await waitFor('the first requests handed over', async () => (slow.handled() === MAX_PIPELINED_REQUESTS ? true : undefined));
    socket.write(REQUEST);
    const outcome = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 15_000).unref())]);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(slow.handled()).toBe(MAX_PIPELINED_REQUESTS);
  });
});
