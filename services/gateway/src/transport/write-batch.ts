import type { Socket } from 'node:net';

/**
 * Coalesces the writes of one event-loop turn into one syscall per socket: the first write
 * to a socket in a turn corks it, and a single setImmediate uncorks every corked socket.
 * A burst of events (a catch-up, a busy second) then costs one writev per client instead
 * of one write per client per event — the kernel write was most of the fan-out's CPU.
 * Everything written to the socket (ws' pings and close frames too) stays in order.
 */
const corked = new Set<Socket>();
let scheduled = false;
/** A big burst (a resume replay, a catch-up) is handed to the kernel as it grows, not held. */
const FLUSH_BYTES = 64 * 1024;

function uncorkAll(): void {
  scheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

export function batchedWrite(socket: Socket, frame: Buffer): void {
  if (!corked.has(socket)) {
    socket.cork();
    corked.add(socket);
    if (!scheduled) {
      scheduled = true;
      setImmediate(uncorkAll);
    }
  }
  socket.write(frame);
  if (socket.writableLength >= FLUSH_BYTES) {
    socket.uncork();
    corked.delete(socket);
  }
}
