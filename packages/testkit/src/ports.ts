import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port handed out; below it are well-known and registered services' ports. */
const FIRST_PORT = 10_000;
/** Slices of the range, one per jest worker (jest.config.js runs far fewer). */
const SLICES = 16;

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

/** Undefined where the kernel's ephemeral range cannot be read or leaves too little below it. */
function ownSlice(): { first: number; size: number; next: number } | undefined {
  let ephemeralLow: number;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
  const size = Math.floor((ephemeralLow - FIRST_PORT) / SLICES);
  if (!(size >= 100)) return undefined;
  const worker = Number(process.env.JEST_WORKER_ID ?? 0) % SLICES;
  // A random start: a worker restarted with the same id does not walk its predecessor's ports first.
  return { first: FIRST_PORT + worker * size, size, next: Math.floor(Math.random() * size) };
}

const portSlice = ownSlice();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
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
