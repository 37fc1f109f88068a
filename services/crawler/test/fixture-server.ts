/**
 * A real HTTP server in the test process that plays scripted answers, one script per path:
 * each request takes the next step, and the last step repeats. A step with an `etag` answers
 * 304 to a request that sends that ETag back, as a provider does for unchanged data.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Step {
  status?: number;
  /** JSON-encoded unless `raw`. */
  body?: unknown;
  raw?: string;
  etag?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering (a slow or frozen provider). */
  delayMs?: number;
}

export interface SeenRequest {
  path: string;
  headers: IncomingHttpHeaders;
  at: number;
  /** What was answered: the HTTP status. */
  status: number;
}

export class FixtureServer {
  readonly requests: SeenRequest[] = [];
  private readonly scripts = new Map<string, Step[]>();
  /** Paths whose last step was served at least once. */
  private readonly finished = new Set<string>();
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] as string;
      const script = this.scripts.get(path);
      if (script?.length === 1) this.finished.add(path);
      const step = script && script.length > 1 ? (script.shift() as Step) : script?.[0];
      const seen: SeenRequest = { path, headers: req.headers, at: Date.now(), status: 404 };
      this.requests.push(seen);
      const answer = () => {
        if (res.destroyed) return;
        if (!step) return void res.writeHead(404).end();
        if (step.etag && req.headers['if-none-match'] === step.etag) {
          seen.status = 304;
          return void res.writeHead(304, { etag: step.etag, ...step.headers }).end();
        }
        seen.status = step.status ?? 200;
        const text = step.raw ?? JSON.stringify(step.body ?? {});
        res.writeHead(seen.status, { 'content-type': 'application/json', ...(step.etag ? { etag: step.etag } : {}), ...step.headers });
        res.end(text);
      };
      if (step?.delayMs) setTimeout(answer, step.delayMs).unref();
      else answer();
    });
  }

  /** Replaces the script of a path. */
  script(path: string, steps: Step[]): this {
    this.scripts.set(path, [...steps]);
    this.finished.delete(path);
    return this;
  }

  /** Steps of a path not yet served (0 once the last one, which repeats, was served). */
  remaining(path: string): number {
    return this.finished.has(path) ? 0 : (this.scripts.get(path)?.length ?? 0);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A crawler process's environment for the HTTP source polling a fixture server, fast. */
export function httpSourceEnv(databaseUrl: string, port: number, baseUrl: string, competitions: string[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    CRAWLER_PORT: String(port),
    CRAWLER_SOURCE: 'http',
    CRAWLER_HTTP_PROVIDER: 'football-data',
    CRAWLER_HTTP_BASE_URL: baseUrl,
    CRAWLER_HTTP_COMPETITIONS: competitions.join(','),
    CRAWLER_HTTP_REQUESTS_PER_MINUTE: '5000',
    CRAWLER_HTTP_TIMEOUT_MS: '1000',
    ...extra,
  };
}
