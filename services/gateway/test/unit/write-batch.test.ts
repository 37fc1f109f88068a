import { once } from 'node:events';
import net from 'node:net';
import { ARRIVAL_WINDOW_MS, STORM_ARRIVALS, STORM_SLICE, batchedWrite, holdWrites, noteArrival, noteConnection } from '../../src/transport/write-batch';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `test` with `count` connected loopback socket pairs: `writers` are what the gateway writes
 * to, `received[i]` what the other end of writers[i] has read; all closed afterwards.
 */
async function withPairs(count: number, test: (writers: net.Socket[], received: string[]) => Promise<void>): Promise<void> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const received: string[] = [];
  const clients = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const client = net.connect(port, '127.0.0.1');
      received[i] = '';
      client.setEncoding('utf8');
      client.on('data', (text: string) => (received[i] += text));
      await once(client, 'connect');
      return client;
    }),
  );
  while (accepted.length < count) await turn();
  // Written to in the order of the clients: match each client with its accepted socket by ports.
  const byPort = new Map(accepted.map((socket) => [socket.remotePort, socket]));
  const writers = clients.map((client) => byPort.get(client.localPort)!);
  try {
    await test(writers, received);
  } finally {
    for (const socket of [...writers, ...clients]) socket.destroy();
    server.close();
  }
}

describe('batchedWrite', () => {
  it('hands every socket\'s writes of a turn to the kernel in the next turn when connections are not arriving in numbers', async () => {
    const count = STORM_SLICE * 3;
    await withPairs(count, async (writers, received) => {
      for (const socket of writers) batchedWrite(socket, Buffer.from('a'));
      for (const socket of writers) batchedWrite(socket, Buffer.from('b'));
      expect(writers.every((socket) => socket.writableCorked === 1)).toBe(true);
      await turn();
      expect(writers.every((socket) => socket.writableCorked === 0)).toBe(true);
      while (received.join('').length < count * 2) await turn();
      expect(received.slice(0, count).every((text) => text === 'ab')).toBe(true);
    });
  });

  it('keeps a socket\'s only frame of a turn and writes it alone at the flush, without corking the socket', async () => {
    await withPairs(1, async ([writer], received) => {
      const written = jest.spyOn(writer!, 'write');
      batchedWrite(writer!, Buffer.from('a'));
      expect(writer!.writableCorked).toBe(0);
      expect(written).not.toHaveBeenCalled(); // held for the turn: a second frame would share its syscall
      await turn();
      expect(written).toHaveBeenCalledTimes(1);
      while (received[0] !== 'a') await turn();
    });
  });

  it('corks a socket that already has a backlog at its first write, instead of keeping the frame', async () => {
    await withPairs(1, async ([writer], received) => {
      Object.defineProperty(writer!, 'writableLength', { value: 1, configurable: true }); // as if the kernel buffer were full
      batchedWrite(writer!, Buffer.from('a'));
      expect(writer!.writableCorked).toBe(1);
      delete (writer as unknown as Record<string, unknown>).writableLength;
      await turn();
      expect(writer!.writableCorked).toBe(0);
      while (received[0] !== 'a') await turn();
    });
  });

  it('keeps a kept frame ahead of what is written to the socket directly after holdWrites (a close frame, the end of a stream)', async () => {
    await withPairs(1, async ([writer], received) => {
      batchedWrite(writer!, Buffer.from('event;'));
      holdWrites(writer!);
      writer!.write('close-frame;');
      writer!.end();
      await turn();
      while (!received[0]!.endsWith('close-frame;')) await turn();
      expect(received[0]).toBe('event;close-frame;');
    });
  });

  it('hands a turn\'s writes to the kernel in slices of STORM_SLICE sockets per loop turn while connections arrive in numbers, each socket\'s frames in order', async () => {
    const count = STORM_SLICE * 2 + 5;
    await withPairs(count, async (writers, received) => {
      for (let i = 0; i < STORM_ARRIVALS; i++) noteArrival();
      for (const socket of writers) batchedWrite(socket, Buffer.from('a'));
      for (const socket of writers) batchedWrite(socket, Buffer.from('b'));
      expect(writers.every((socket) => socket.writableCorked === 1)).toBe(true);
      await turn();
      // One slice per turn: the loop gets back to accepting and reading between slices.
      expect(writers.filter((socket) => socket.writableCorked === 0)).toHaveLength(STORM_SLICE);
      // A socket still waiting for its slice keeps collecting: its frames go out together, in order.
      batchedWrite(writers[count - 1]!, Buffer.from('c'));
      // A socket already flushed in this pass is corked again and flushed in a later slice.
      batchedWrite(writers[0]!, Buffer.from('c'));
      for (let i = 0; i < 4; i++) await turn();
      expect(writers.every((socket) => socket.writableCorked === 0)).toBe(true);
      while (received.join('').length < count * 2 + 2) await turn();
      expect(received[0]).toBe('abc');
      expect(received[count - 1]).toBe('abc');
      expect(received.slice(1, count - 1).every((text) => text === 'ab')).toBe(true);
    });
  });
});

describe('the length of a flush turn', () => {
  /**
   * A clock that moves only when a socket is written to, by `writeMs` per write (a kernel write's
   * cost): how many sockets a turn flushes then depends on the batch's turn length alone, not on
   * how busy the machine is.
   */
  async function firstTurn(count: number, writeMs: number, before: () => void): Promise<{ first: number; all: number }> {
    let clock = performance.now() + 10 * ARRIVAL_WINDOW_MS; // past any storm or arrival an earlier test left
    const now = jest.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      let written = 0;
      let first = 0;
      await withPairs(count, async (writers, received) => {
        for (const socket of writers) {
          const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
          jest.spyOn(socket, 'write').mockImplementation(((chunk: Buffer) => {
            clock += writeMs;
            written++;
            return write(chunk);
          }) as typeof socket.write);
        }
        before();
        for (const socket of writers) batchedWrite(socket, Buffer.from('a'));
        await turn();
        first = written;
        while (written < count) await turn();
        while (received.join('').length < count) await turn();
      });
      return { first, all: written };
    } finally {
      now.mockRestore();
    }
  }

  it('flushes for up to QUIET_TURN_MS (4 ms) per turn when no connection was accepted lately: fewer turns, each a poll', async () => {
    // 128 writes of 12 µs: 1.5 ms, past the 0.5 ms of a turn while connections arrive.
    expect(await firstTurn(128, 0.012, () => undefined)).toEqual({ first: 128, all: 128 });
  });

  it('still yields to the loop within a quiet flush that takes longer than QUIET_TURN_MS', async () => {
    // 128 writes of 0.1 ms: checked every 64 sockets, the first 64 took 6.4 ms.
    expect(await firstTurn(128, 0.1, () => undefined)).toEqual({ first: 64, all: 128 });
  });

  it('flushes in turns of about CALM_TURN_MS (0.5 ms) for ARRIVAL_WINDOW_MS after a connection was accepted, so the loop keeps accepting', async () => {
    expect(await firstTurn(128, 0.012, noteConnection)).toEqual({ first: 64, all: 128 });
  });
});
