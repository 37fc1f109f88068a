import { createServer } from 'node:net';

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '0.0.0.0', () => server.close(() => done(true)));
  });
}

/** The first of `span` consecutive free ports (the demo takes PORT, PORT+1, …). */
export async function freePortRange(span: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(Array.from({ length: span }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
}
