import type { Socket } from 'node:net';

/**
 * Coalesces the writes of one event-loop turn into one syscall per socket: a socket's writes
 * in a turn are held, and a setImmediate hands them to the kernel.
 * A burst of events (a catch-up, a busy second) then costs one writev per client instead
 * of one write per client per event — the kernel write was most of the fan-out's CPU.
 * Everything written through here, or after holdWrites, stays in order.
 *
 * While streams open in numbers (a reconnect storm), the flush runs in slices of
 * STORM_SLICE sockets, one slice per loop turn: an event for 10,000 clients is 10,000 kernel
 * writes (tens of ms), and Node accepts one connection per loop turn (libuv 1.45+,
 * libuv/libuv#3696), so one unbroken flush per event left a storm's connections waiting in the
 * accept queue, or dropped when it overflowed. A socket waiting for its slice keeps collecting
 * frames: under load, more frames share each syscall, and the CPU that saves goes to the
 * connections being accepted. Otherwise a turn flushes for about CALM_TURN_MS while TCP
 * connections are being accepted (noteConnection), and for QUIET_TURN_MS when none was for
 * ARRIVAL_WINDOW_MS: each extra turn costs a poll, and 8-socket slices at light load (5,000
 * clients × 5 events/s) cost 40–50 % more CPU per delivery than one flush per turn.
 */
/**
 * A socket held here carries HELD, and the sockets to flush are listed in the order they were
 * held, from `next` on: a flag and an array, not a Set, because this runs per delivery (at
 * 5,000 clients × 5 events/s the Set cost 0.6–1.0 µs of user CPU per delivery, ~5 % of it). A
 * socket flushed early (FLUSH_BYTES) and held again is listed twice; its earlier entry's flush
 * is then only early.
 *
 * A socket's first frame in a turn, when nothing is queued on it, is only kept (PENDING) and
 * written alone at the flush: one event per turn, the usual case, then costs one plain write, as
 * in a server without a batch, not a cork, a buffered stream entry and an uncork. A second write
 * in the turn corks the socket with the kept frame first, so a burst still leaves in one writev;
 * a socket with a backlog is corked at once. Whoever writes to the socket other than through here
 * (the WebSocket handshake, our close frames, the end of an SSE stream) calls holdWrites first: a
 * kept frame would otherwise be overtaken. What ws writes by itself can go before a kept frame: a
 * pong (control frames may come between messages) and the close frame answering a client's close,
 * after which ws ends the socket in the next tick, so the flush drops the frame for a client that
 * is leaving.
 */
const HELD = Symbol('held');
const PENDING = Symbol('pending');
type Held = Socket & { [HELD]?: boolean; [PENDING]?: Buffer };
let held: Held[] = [];
let next = 0;
let scheduled = false;
/** A big burst (a resume replay, a catch-up) is handed to the kernel as it grows, not held. */
const FLUSH_BYTES = 64 * 1024;
/**
 * Sockets flushed per loop turn during a storm (~0.03 ms of kernel writes on loopback).
 * Storm (10,000 clients, 5,000 resuming, 20 events/s) resumed p99 on a busy machine at 64: 9.4 s,
 * at 16: 4.7–5.4 s, at 8: 3.8–4.9 s; on a quiet one at 8: 2.8–3.3 s, at 4: 2.3–2.6 s, at 2 and
 * 1: 2.4–2.8 s (the extra turns start to cost more than the accepts they make room for).
 */
export const STORM_SLICE = 4;
/**
 * Otherwise, while connections are being accepted, a turn's flush stops after about this long
 * (checked every CALM_CHECK_EVERY sockets): the loop accepts often enough for a storm's first
 * arrivals to be counted.
 */
const CALM_TURN_MS = 0.5;
/**
 * With no connection accepted for ARRIVAL_WINDOW_MS, a turn's flush stops after about this long
 * instead: a flush to 2,500 clients then takes ~8 turns, not ~60, each of them a poll, an
 * immediate's callback scope and its async-hook bookkeeping (at 5,000 clients × 5 events/s, 43 %
 * fewer epoll_pwait per delivery and ~0.6 % less CPU: docs/benchmarks.md, "Where the gap is").
 * What waits for the end of such a turn (a read, a storm's first connection) waits at most this
 * long, once: the first connection accepted shortens the turns that follow to CALM_TURN_MS.
 */
const QUIET_TURN_MS = 4;
const CALM_CHECK_EVERY = 64;
/**
 * A storm: STORM_ARRIVALS streams opened within one ARRIVAL_WINDOW_MS window; it lasts until
 * ARRIVAL_WINDOW_MS after the last arrival that kept the count there.
 */
export const ARRIVAL_WINDOW_MS = 100;
export const STORM_ARRIVALS = 10;

let arrivals = 0;
let windowStartMs = -Infinity;
let stormUntilMs = -Infinity;
let lastConnectionMs = -Infinity;

/** Notes a TCP connection accepted on the client port (any, before admission): flush turns are short for ARRIVAL_WINDOW_MS. */
export function noteConnection(): void {
  lastConnectionMs = performance.now();
}

/** Counts a stream opened (WebSocket or SSE, past every check: admission.ts `opened`); true when it starts a storm. */
export function noteArrival(): boolean {
  const now = performance.now();
  if (now - windowStartMs > ARRIVAL_WINDOW_MS) {
    windowStartMs = now;
    arrivals = 0;
  }
  if (++arrivals < STORM_ARRIVALS) return false;
  const starts = now >= stormUntilMs;
  stormUntilMs = now + ARRIVAL_WINDOW_MS;
  return starts;
}

function flushSlice(): void {
  const now = performance.now();
  const storm = now < stormUntilMs;
  const deadline = now + (now - lastConnectionMs < ARRIVAL_WINDOW_MS ? CALM_TURN_MS : QUIET_TURN_MS);
  let count = 0;
  while (next < held.length) {
    const socket = held[next++]!;
    socket[HELD] = false;
    const frame = socket[PENDING];
    if (frame === undefined) socket.uncork();
    else {
      socket[PENDING] = undefined;
      if (socket.writable) socket.write(frame);
    }
    count++;
    const yieldNow = storm ? count === STORM_SLICE : count % CALM_CHECK_EVERY === 0 && performance.now() > deadline;
    if (yieldNow && next < held.length) {
      // A pass that new writes keep extending must not keep the entries it has done.
      if (next > 1024 && next * 2 > held.length) {
        held = held.slice(next);
        next = 0;
      }
      setImmediate(flushSlice);
      return;
    }
  }
  held = [];
  next = 0;
  scheduled = false;
}

/**
 * Holds what is written to the socket from now on until its slice: e.g. a WebSocket
 * handshake's 101 response then goes out with the first frames in one syscall, not alone, and
 * a close frame or the end of the stream after the frames written before it.
 */
export function holdWrites(socket: Held): void {
  if (socket[HELD]) return corkPending(socket);
  socket.cork();
  list(socket);
}

export function batchedWrite(socket: Held, frame: Buffer): void {
  if (!socket[HELD] && socket.writableLength === 0) {
    socket[PENDING] = frame;
    list(socket);
    return;
  }
  holdWrites(socket);
  socket.write(frame);
  if (socket.writableLength >= FLUSH_BYTES) {
    socket.uncork();
    socket[HELD] = false;
  }
}

function list(socket: Held): void {
  socket[HELD] = true;
  held.push(socket);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushSlice);
  }
}

/** Corks a held socket that has a frame kept for it, with that frame first. */
function corkPending(socket: Held): void {
  const frame = socket[PENDING];
  if (frame === undefined) return;
  socket[PENDING] = undefined;
  socket.cork();
  socket.write(frame);
}
