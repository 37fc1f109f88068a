import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port handed out; below it are well-known and registered services' ports. */
const FIRST_PORT = 10_000;
/** Slices of the range, one per jest worker (jest.config.js runs far fewer). */
const SLICES = 16;
/** The top of each slice, kept for freePortRange: freePort never walks it (see freePortRange). */
const RANGE_AREA = 200;

/**
 * A free TCP port on loopback, from this process's own slice of the range below the kernel's
 * ephemeral ports. A port from `listen(0)` is an ephemeral one and free again the moment it is
 * handed over: until the service binds it (or while a test has a server down, to restart it on
 * the same port) another worker's `listen(0)` or any outgoing connection can take it, and the
 * service fails to start. Below the ephemeral range no connection takes a port, each jest
 * worker has its own slice, and a slice is walked in turn, so no two tests get the same port.
 */
export async function freePort(): Promise<number> {
  const slice = portSlice;
  if (!slice) return kernelPort();
  for (let tried = 0; tried < slice.size; tried++) {
    const port = slice.first + (slice.next++ % slice.size);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${slice.first}..${slice.first + slice.size - 1}`);
}

/**
 * The first of `span` consecutive free ports on loopback, below the kernel's ephemeral range
 * (the demo takes PORT, PORT+1, …, binding them one by one as its services start). A base
 * picked inside the ephemeral range (the default 32768–60999) can lose one of its ports to any
 * outgoing connection between the check and the bind. Ranges come from the top of this worker's
 * slice, which freePort never hands out: a child that inherits JEST_WORKER_ID (the demo, for its
 * embedded Postgres) walks the same slice with freePort, and must not take a port of the range
 * that a later service of the demo is to bind.
 */
export async function freePortRange(span: number): Promise<number> {
  if (!Number.isInteger(span) || span < 1 || span > RANGE_AREA) throw new RangeError(`span must be 1..${RANGE_AREA}, not ${span}`);
  const area = rangeArea;
  if (!area) return anyRangeBelowEphemeral(span);
  const bases = area.size - span + 1;
  for (let tried = 0; tried < bases; tried++) {
    const base = area.first + (area.next % bases);
    const free = await Promise.all(Array.from({ length: span }, (_, i) => canListenEverywhere(base + i)));
    if (free.every(Boolean)) {
      area.next += span; // the next range starts past this one
      return base;
    }
    area.next++;
  }
  throw new Error(`no ${span} consecutive free ports in ${area.first}..${area.first + area.size - 1}`);
}

interface Walk {
  first: number;
  size: number;
  next: number;
}

function ephemeralLow(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
}

/** This worker's slice for freePort, and the area at its top for freePortRange. Undefined where
 * the kernel's ephemeral range cannot be read or leaves too little below it. */
function ownSlice(): { ports: Walk; ranges: Walk } | undefined {
  const low = ephemeralLow();
  if (low === undefined) return undefined;
  const size = Math.floor((low - FIRST_PORT) / SLICES);
  if (!(size >= 100 + RANGE_AREA)) return undefined;
  const worker = Number(process.env.JEST_WORKER_ID ?? 0) % SLICES;
  const first = FIRST_PORT + worker * size;
  const portsSize = size - RANGE_AREA;
  // Random starts: a worker restarted with the same id does not walk its predecessor's ports first.
  return {
    ports: { first, size: portsSize, next: Math.floor(Math.random() * portsSize) },
    ranges: { first: first + portsSize, size: RANGE_AREA, next: Math.floor(Math.random() * RANGE_AREA) },
  };
}

const slices = ownSlice();
const portSlice = slices?.ports;
const rangeArea = slices?.ranges;

/** Without /proc: a random base below 32768, under both Linux's and IANA's (49152) ephemeral ranges. */
async function anyRangeBelowEphemeral(span: number): Promise<number> {
  for (let tried = 0; tried < 1000; tried++) {
    const base = FIRST_PORT + Math.floor(Math.random() * (32_768 - FIRST_PORT - span));
    const free = await Promise.all(Array.from({ length: span }, (_, i) => canListenEverywhere(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${span} consecutive free ports found below 32768`);
}

function canListen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The demo's edge listens on every address, its services on loopback: free on both. */
async function canListenEverywhere(port: number): Promise<boolean> {
  return (await canListen(port, '0.0.0.0')) && (await canListen(port));
}

/** Asks the kernel for a free port (an ephemeral one). */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the free port'));
      });
    });
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
