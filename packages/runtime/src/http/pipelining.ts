import type { RequestListener } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Requests one connection may have in flight: HTTP/1.1 pipelining sends the next before the
 * answer to the last, and Node hands every request it has parsed to the handlers at once
 * (it waits for answers only once they pile up unsent). Browsers, proxies and HTTP clients never
 * pipeline, so a connection past this is abuse.
 */
export const MAX_PIPELINED_REQUESTS = 16;

const IN_FLIGHT = Symbol('matchcast.inFlight');
type Counted = Socket & { [IN_FLIGHT]?: number };

/**
 * Wraps a server's request listener: a connection with more than `max` requests in flight is
 * destroyed and what it sent beyond them never reaches `listener`. Before, one connection
 * writing thousands of pipelined `GET /api/matches` without reading ran them all at once:
 * hundreds of MB of heap, and every other client's requests waited seconds for the pool.
 */
export function limitPipelining(listener: RequestListener, max = MAX_PIPELINED_REQUESTS): RequestListener {
  return (req, res) => {
    const socket = req.socket as Counted;
    if (socket.destroyed) return;
    const inFlight = (socket[IN_FLIGHT] ?? 0) + 1;
    if (inFlight > max) return void socket.destroy();
    socket[IN_FLIGHT] = inFlight;
    res.once('close', () => {
      socket[IN_FLIGHT]!--;
    });
    listener(req, res);
  };
}
