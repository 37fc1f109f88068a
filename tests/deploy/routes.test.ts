/**
 * One routing table (support/routes.ts), two proxies: the chart's Ingress, matched with the
 * Kubernetes rules, and the compose edge, a real nginx running deploy/compose/edge.conf in front
 * of two stub upstreams — WebSocket upgraded on /ws, SSE streamed unbuffered, X-Forwarded-For
 * appended.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import WebSocket, { WebSocketServer } from 'ws';
import { toolsUnavailableReason } from './support/k8s-tools';
import { find, helmTemplate, REPO } from './support/manifests';
import { type Backend, ingressBackend, type IngressPath, ROUTES, SSE_PATHS } from './support/routes';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;

describe('the Kubernetes path matcher itself', () => {
  const paths: IngressPath[] = [
    { path: '/', pathType: 'Prefix', backend: { service: { name: 'root' } } },
    { path: '/a/b', pathType: 'Prefix', backend: { service: { name: 'ab' } } },
    { path: '/a', pathType: 'Exact', backend: { service: { name: 'a-exact' } } },
  ];
  it('matches whole elements, longest first, Exact before Prefix', () => {
    expect(['/a', '/a/', '/a/b', '/a/b/c', '/a/bc', '/x'].map((p) => ingressBackend(paths, p))).toEqual(['a-exact', 'root', 'ab', 'ab', 'root', 'root']);
  });
});

describeWithHelm('the chart\'s Ingress', () => {
  const pathsOf = (args: string[]) => {
    const ingress = find(helmTemplate(['--set', 'ingress.enabled=true', ...args]), 'Ingress', 'matchcast-gateway');
    return (ingress.spec as { rules: { http: { paths: IngressPath[] } }[] }).rules[0]!.http.paths;
  };
  const service: Record<Backend, string> = { gateway: 'matchcast-gateway', api: 'matchcast-api' };
  let defaults: IngressPath[];
  beforeAll(() => {
    defaults = pathsOf([]);
  });

  it.each(ROUTES)('%s → %s', (path, backend) => {
    expect(ingressBackend(defaults, path)).toBe(service[backend]);
  });

  it('targets the Services\' named http ports, which the API and gateway Services have', () => {
    const manifests = helmTemplate(['--set', 'ingress.enabled=true']);
    for (const p of defaults) {
      expect((p.backend.service as { port?: unknown }).port).toEqual({ name: 'http' });
      const ports = (find(manifests, 'Service', p.backend.service.name).spec as { ports: { name: string }[] }).ports.map((x) => x.name);
      expect(ports).toContain('http');
    }
  });

  it('sends everything to the gateway when the API is disabled', () => {
    const paths = pathsOf(['--set', 'api.enabled=false']);
    for (const [path] of ROUTES) expect([path, ingressBackend(paths, path)]).toEqual([path, 'matchcast-gateway']);
  });
});

// ---- the compose edge, for real ----


interface Seen {
  backend: Backend;
  path: string;
  forwardedFor?: string;
}

/** A stub upstream answering with which backend it is and what it saw; SSE on the SSE paths. */
function stub(backend: Backend): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    const seen: Seen = { backend, path, forwardedFor: req.headers['x-forwarded-for'] as string | undefined };
    // A gateway that goes away mid-request (a restart): the edge answers 502 and logs an error.
    if (path.includes('drop=1')) return void req.socket.destroy();
    if (backend === 'gateway' && SSE_PATHS.includes(path.split('?')[0]!)) {
      // No X-Accel-Buffering header: what streams it is the edge's own configuration.
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(`event: connected\ndata: ${JSON.stringify(seen)}\n\n`);
      return; // left open, as a real stream is
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(seen));
  });
  if (backend === 'gateway') {
    server.prependListener('upgrade', (req: IncomingMessage, socket: Duplex) => {
      if (req.url?.includes('drop=1')) socket.destroy();
    });
    const wss = new WebSocketServer({ server, path: '/ws' });
    wss.on('connection', (socket, req) => socket.send(JSON.stringify({ backend, path: req.url, forwardedFor: req.headers['x-forwarded-for'] })));
  }
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the compose edge (nginx with deploy/compose/edge.conf)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matchcast-edge-'));
  const upstreams: Server[] = [];
  let edge: ManagedChild;
  let base = '';

  beforeAll(async () => {
    if (spawnSync('nginx', ['-v']).error) throw new Error('nginx is not installed: `make test-tools` installs it (Debian nginx-light)');
    const [gateway, api] = [await stub('gateway'), await stub('api')];
    upstreams.push(gateway, api);
    const port = await freePort();
    // The shipped file, with compose's service names and port swapped for this machine's.
    const conf = readFileSync(join(REPO, 'deploy', 'compose', 'edge.conf'), 'utf8')
      .replace('server gateway:8080;', `server 127.0.0.1:${(gateway.address() as AddressInfo).port};`)
      .replace('server api:8090;', `server 127.0.0.1:${(api.address() as AddressInfo).port};`)
      .replace(/listen 8080;/, `listen 127.0.0.1:${port};`)
      .replace('access_log /var/log/nginx/access.log', `access_log ${dir}/edge-access.log`)
      .replaceAll('error_log /var/log/nginx/error.log', `error_log ${dir}/edge-error.log`);
    expect(conf).not.toMatch(/server (gateway|api):/);
    writeFileSync(join(dir, 'edge.conf'), conf);
    writeFileSync(join(dir, 'nginx.conf'), [
      'daemon off;', 'worker_processes 1;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log warn;`,
      'events { worker_connections 64; }',
      // The image's own default (nginx:alpine logs "$request", query and all, to stdout).
      'http {', `  access_log ${dir}/access.log combined;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      `  include ${dir}/edge.conf;`, '}', '',
    ].join('\n'));
    const check = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`nginx -t failed:\n${check.stderr}`);
    edge = startChild('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], join(dir, 'nginx.log'));
    base = `http://127.0.0.1:${port}`;
    await waitFor('the edge to answer', async () => ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok ? true : undefined), 10_000, 100);
  });

  afterAll(async () => {
    await edge?.stop('SIGQUIT', 5_000);
    await Promise.all(upstreams.map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve); })));
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(ROUTES.filter(([path]) => path !== '/ws' && !SSE_PATHS.includes(path.split('?')[0]!)))('%s → %s', async (path, backend) => {
    const response = await fetch(`${base}${path}`);
    const seen = (await response.json()) as Seen;
    expect([seen.backend, seen.path]).toEqual([backend, path]);
  });

  it('appends the client to X-Forwarded-For (the services trust one hop)', async () => {
    const seen = (await (await fetch(`${base}/api/notifications`, { headers: { 'X-Forwarded-For': '203.0.113.9' } })).json()) as Seen;
    expect(seen.forwardedFor).toBe('203.0.113.9, 127.0.0.1');
  });

  it('upgrades /ws to a WebSocket on the gateway', async () => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?token=t`);
    const first = await new Promise<Seen>((resolve, reject) => {
      socket.once('message', (data) => resolve(JSON.parse(String(data)) as Seen));
      socket.once('error', reject);
    });
    socket.close();
    expect(first).toEqual({ backend: 'gateway', path: '/ws?token=t', forwardedFor: '127.0.0.1' });
  });

  it('logs requests without their query: no ?token= of a WebSocket or SSE client in any log', async () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl';
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${token}`);
    await new Promise((resolve, reject) => {
      socket.once('message', resolve);
      socket.once('error', reject);
    });
    socket.close();
    const controller = new AbortController();
    const response = await fetch(`${base}/sse?channels=all&token=${token}`, { signal: controller.signal });
    await response.body!.getReader().read();
    controller.abort();
    await fetch(`${base}/api/notifications?token=${token}`);
    const logs = () => readdirSync(dir).filter((name) => name.endsWith('.log')).map((name) => readFileSync(join(dir, name), 'utf8')).join('\n');
    await waitFor('the requests logged', async () => (['/ws', '/sse', '/api/notifications'].every((path) => logs().includes(` ${path}`)) ? true : undefined), 5_000, 100);
    expect(logs()).not.toContain(token);
  });

  it('logs no ?token= of a WebSocket or SSE client when the gateway fails it (the error log names the request line)', async () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.ZHJvcHBlZC10b2tlbg.c2lnbmF0dXJl';
    for (const path of ['/sse', '/api/notifications/stream']) expect((await fetch(`${base}${path}?channels=all&drop=1&token=${token}`)).status).toBe(502);
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?drop=1&token=${token}`);
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.once('error', () => resolve(0));
    });
    expect(refused).toBe(502);
    const logs = () => readdirSync(dir).filter((name) => name.endsWith('.log')).map((name) => readFileSync(join(dir, name), 'utf8')).join('\n');
    await waitFor('the failures logged', async () => ((logs().match(/" 502 /g) ?? []).length >= 3 ? true : undefined), 5_000, 100);
    expect(logs()).not.toContain(token);
  });

  it('turns proxy buffering off and allows long idle reads on every SSE location', () => {
    const conf = readFileSync(join(REPO, 'deploy', 'compose', 'edge.conf'), 'utf8');
    for (const path of SSE_PATHS) {
      const locations = [...conf.matchAll(new RegExp(`^\\s*location (= )?${path}/? *\\{([^}]*)\\}`, 'gm'))];
      expect([path, locations.length]).toEqual([path, 2]);
      for (const [, , body] of locations) expect(body).toMatch(/proxy_buffering off;.*proxy_read_timeout 1h;/);
    }
  });

  it.each(SSE_PATHS)('streams %s unbuffered: the first event arrives while the stream stays open', async (path) => {
    const controller = new AbortController();
    const response = await fetch(`${base}${path}`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const first = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no event within 3 s: the edge buffers SSE')), 3_000)),
    ]);
    controller.abort();
    const text = new TextDecoder().decode(first.value);
    expect(text).toMatch(/^event: connected\ndata: /);
    expect((JSON.parse(text.split('data: ')[1]!) as Seen).backend).toBe('gateway');
  });
});
