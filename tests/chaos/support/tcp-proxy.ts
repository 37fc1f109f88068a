/**
 * A loopback TCP proxy in front of a gateway, for network faults the test controls:
 * `cut()` drops every connection at once (no close frame: the client sees a lost
 * connection, as on a dead network path), `refusing` drops new connections (a partition),
 * `flapAfterMs` cuts each new connection that long after it opened (a flapping path), and `latencyMs` delays every chunk, in both
 * directions and in order (a slow network). Only 127.0.0.1, on a port of its own.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  /** Added to every chunk, both ways; 0 forwards at once. */
  latencyMs = 0;
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** While true, new connections are dropped at once (a network partition). */
  refusing = false;
  /** When set, every new connection is cut this long after it was accepted (a flapping path). */
  flapAfterMs: number | undefined;
  /** Connections accepted and connections cut (for the report). */
  accepted = 0;
  cuts = 0;

  /** `target`: one port, or a choice made per new connection (a Service over changing endpoints; undefined drops it). */
  constructor(readonly target: number | (() => number | undefined)) {}

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async start(port = 0): Promise<this> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Destroys every open connection, both sides (in-flight and delayed bytes are lost). */
  cut(): number {
    const count = this.sockets.size;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (count > 0) this.cuts++;
    return count;
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const port = typeof this.target === 'number' ? this.target : this.target();
    if (port === undefined) {
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = createConnection({ host: '127.0.0.1', port });
    const pair = [client, upstream];
    for (const socket of pair) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
    if (this.flapAfterMs !== undefined) {
      setTimeout(() => {
        if (!client.destroyed) this.cuts++;
        for (const socket of pair) socket.destroy();
      }, this.flapAfterMs).unref();
    }
  }

  /** Forwards `from` → `to`, each chunk `latencyMs` late, order kept. */
  private pipe(from: Socket, to: Socket): void {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pump = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.due - now);
    };
    from.on('data', (chunk: Buffer) => {
      if (this.latencyMs <= 0 && queue.length === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      // Never earlier than the chunk before it: bytes stay in order when latency drops.
      const due = Math.max(Date.now() + this.latencyMs, queue.at(-1)?.due ?? 0);
      queue.push({ due, chunk });
      if (!timer) timer = setTimeout(pump, due - Date.now());
    });
    // Either side gone (a killed gateway, a client that left): the other side ends once the
    // delayed bytes are out (a drain's 1012 close frame still arrives), then is destroyed.
    from.on('close', () => {
      const finish = (): void => {
        if (queue.length > 0 && !to.destroyed) return void setTimeout(finish, 10);
        to.end();
        setTimeout(() => to.destroy(), 500).unref();
      };
      finish();
    });
  }
}
