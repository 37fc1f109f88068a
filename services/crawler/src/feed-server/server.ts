/**
 * A small local provider for the demo (`make demo FEED=http`): serves the DemoFeed at
 * football-data v4's paths, with what a polite client needs to be polite to — an ETag per
 * answer (304 when it has not changed) and the provider's quota headers.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from '@matchcast/runtime';
import { DEMO_COMPETITION, type DemoFeed } from './demo-feed';

export interface FeedServer {
  readonly port: number;
  close(): Promise<void>;
}

const QUOTA_PER_MINUTE = 600;

export async function startFeedServer(feed: DemoFeed, port: number, host = '127.0.0.1', now: () => number = Date.now): Promise<FeedServer> {
  let windowStart = now();
  let used = 0;
  const server: Server = createServer((req, res) => {
    if (now() - windowStart >= 60_000) {
      windowStart = now();
      used = 0;
    }
    used++;
    const quota = {
      'x-requests-available-minute': String(Math.max(0, QUOTA_PER_MINUTE - used)),
      'x-requestcounter-reset': String(Math.ceil((windowStart + 60_000 - now()) / 1000)),
    };
    if (used > QUOTA_PER_MINUTE) return void res.writeHead(429, { ...quota, 'retry-after': quota['x-requestcounter-reset'] }).end();
    const path = (req.url ?? '/').split('?')[0] as string;
    const detail = /^\/v4\/matches\/(\d{1,9})$/.exec(path);
    const body =
      path === `/v4/competitions/${DEMO_COMPETITION.code}/matches`
        ? feed.list(now())
        : detail
          ? feed.detail(Number(detail[1]), now())
          : undefined;
    if (body === undefined) return void res.writeHead(404, { 'content-type': 'application/json', ...quota }).end('{"message":"not found"}');
    const text = JSON.stringify(body);
    const etag = `"${createHash('sha1').update(text).digest('base64url')}"`;
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag, ...quota }).end();
    res.writeHead(200, { 'content-type': 'application/json', etag, ...quota }).end(text);
  });
  await listen(server, { port, host });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
