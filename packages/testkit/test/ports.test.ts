/**
 * freePort hands out ports no outgoing connection and no other jest worker can take between
 * the test asking and the service binding (a CI run lost a gateway that way).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

/** freePort as a fresh module would have it in the given jest worker. */
function freePortOfWorker(workerId: string): () => Promise<number> {
  const saved = process.env.JEST_WORKER_ID;
  process.env.JEST_WORKER_ID = workerId;
  try {
    let freePort!: () => Promise<number>;
    jest.isolateModules(() => {
      freePort = (jest.requireActual('../src/ports') as typeof import('../src/ports')).freePort;
    });
    return freePort;
  } finally {
    process.env.JEST_WORKER_ID = saved;
  }
}

async function take(freePort: () => Promise<number>, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort', () => {
  it('hands out ports below the ephemeral range, never the same one twice in a row of many', async () => {
    const ports = await take(freePortOfWorker('1'), 300);
    expect(new Set(ports).size).toBe(300);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLow);
    }
  });

  it('gives two jest workers disjoint ports', async () => {
    const [first, second] = await Promise.all([take(freePortOfWorker('1'), 200), take(freePortOfWorker('2'), 200)]);
    const overlap = first.filter((port) => second.includes(port));
    expect(overlap).toEqual([]);
  });

  it('skips a port something already listens on', async () => {
    const freePort = freePortOfWorker('3');
    const next = await freePort();
    // The walk goes on from `next`: hold the port after it, and it must be passed over.
    const server = await listen(next + 1);
    try {
      const port = await freePort();
      expect(port).not.toBe(next + 1);
      await expect(listen(port).then((s) => new Promise((r) => s.close(r)))).resolves.toBeUndefined();
    } finally {
      server.close();
    }
  });
});
