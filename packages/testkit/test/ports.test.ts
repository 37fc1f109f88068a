/**
 * freePort hands out ports no outgoing connection and no other jest worker can take between
 * the test asking and the service binding (a CI run lost a gateway that way).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

type Ports = typeof import('../src/ports');

/** The ports module as a fresh one would be in the given jest worker. */
function portsOfWorker(workerId: string): Ports {
  const saved = process.env.JEST_WORKER_ID;
  process.env.JEST_WORKER_ID = workerId;
  try {
    let ports!: Ports;
    jest.isolateModules(() => {
      ports = jest.requireActual('../src/ports') as Ports;
    });
    return ports;
  } finally {
    process.env.JEST_WORKER_ID = saved;
  }
}

/** freePort as a fresh module would have it in the given jest worker. */
function freePortOfWorker(workerId: string): () => Promise<number> {
  return portsOfWorker(workerId).freePort;
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

describe('freePortRange', () => {
  it('hands out consecutive ports below the ephemeral range, that an outgoing connection cannot take before the service binds them', async () => {
    const { freePortRange } = portsOfWorker('4');
    for (let i = 0; i < 5; i++) {
      const base = await freePortRange(14);
      expect(base).toBeGreaterThanOrEqual(10_000);
      expect(base + 13).toBeLessThan(ephemeralLow);
      const servers = await Promise.all(Array.from({ length: 14 }, (_, port) => listen(base + port)));
      await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
    }
  });

  it('never overlaps the ports freePort hands out, also in another process of the same worker (the demo inherits JEST_WORKER_ID)', async () => {
    const base = await portsOfWorker('5').freePortRange(14);
    // The demo's embedded Postgres: freePort in a fresh module of the same worker, walked through its whole slice.
    const ports = await take(freePortOfWorker('5'), 1500);
    expect(ports.filter((port) => port >= base && port < base + 14)).toEqual([]);
  });

  it('gives successive ranges that do not overlap, and passes over one whose port something holds', async () => {
    const { freePortRange } = portsOfWorker('6');
    const first = await freePortRange(14);
    const second = await freePortRange(14);
    expect(second >= first + 14 || second + 14 <= first).toBe(true);
    const held = await listen(second + 14 + 5);
    try {
      const third = await freePortRange(14);
      expect(third <= second + 14 + 5 && third + 14 > second + 14 + 5).toBe(false);
    } finally {
      held.close();
    }
  });
});
