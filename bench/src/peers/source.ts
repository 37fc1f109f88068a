import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { REDIS_EVENTS_CHANNEL, decodeForwarded, isRef, type OutboxEvent } from '@matchcast/protocol';
import { Redis } from 'ioredis';

/**
 * The event source every peer shares with the gateway's Redis mode: the notify-listener's
 * forwarded notifications on 'pg_notify:events'. Peers do no ordering, gap filling or
 * catch-up: they only fan out, which flatters them, not us.
 */
export function subscribeEvents(url: string, onEvent: (event: OutboxEvent) => void): { ready: Promise<void>; close: () => void } {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null });
  redis.on('message', (_channel: string, message: string) => {
    const item = decodeForwarded(message);
    if (!isRef(item)) onEvent(item);
  });
  redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
  const ready = redis.subscribe(REDIS_EVENTS_CHANNEL).then(() => undefined);
  return { ready, close: () => redis.disconnect() };
}

/** An HTTP server whose /readyz answers 200 once `isReady()`; the peers attach their WebSocket servers to it. */
export function peerHttpServer(isReady: () => boolean): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/readyz') {
      res.writeHead(isReady() ? 200 : 503).end();
      return;
    }
    // Socket.IO answers its own paths; anything else is not ours.
    if (!req.url?.startsWith('/socket.io')) res.writeHead(404).end();
  });
}

/** Env of a peer process: PORT (on 127.0.0.1) and REDIS_URL. */
export function peerEnv(): { port: number; redisUrl: string } {
  const port = Number(process.env.PORT);
  const redisUrl = process.env.REDIS_URL;
  if (!Number.isInteger(port) || !redisUrl) throw new Error('PORT and REDIS_URL are required');
  return { port, redisUrl };
}

/** SIGTERM/SIGINT: close and exit (the bench stops peers with SIGTERM). */
export function exitOnSignal(close: () => void): void {
  const stop = () => {
    close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
