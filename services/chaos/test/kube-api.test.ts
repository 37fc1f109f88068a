/**
 * The real @kubernetes/client-node adapter (compiled, in a plain node child: the library is
 * an ES module jest cannot load) against a stand-in API server on loopback: the requests it
 * sends (paths, query, patch content type, body, token) and how it reads the answers.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIST = join(__dirname, '..', 'dist', 'kube-api.js');

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  auth: string | undefined;
  body: string;
}

function respond(req: IncomingMessage, body: string): { status: number; type: string; body: string } {
  const url = req.url ?? '';
  const json = (status: number, value: unknown) => ({ status, type: 'application/json', body: JSON.stringify(value) });
  if (req.method === 'GET' && url.startsWith('/api/v1/namespaces/ns/pods?')) {
    return json(200, {
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: {},
      items: [
        {
          metadata: { name: 'gw-1' },
          status: { podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'True' }] },
        },
        {
          metadata: { name: 'gw-2', deletionTimestamp: '2030-01-01T00:00:00Z' },
          status: { conditions: [{ type: 'Ready', status: 'False' }] },
        },
      ],
    });
  }
  if (req.method === 'DELETE' && url.startsWith('/api/v1/namespaces/ns/pods/gw-1')) return json(200, { metadata: { name: 'gw-1' } });
  if (req.method === 'PATCH' && /\/apis\/apps\/v1\/namespaces\/ns\/(deployments|statefulsets)\/\w+\/scale/.test(url)) {
    return json(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'x' }, spec: JSON.parse(body).spec });
  }
  if (req.method === 'GET' && url === '/apis/apps/v1/namespaces/ns/deployments/redis') {
    return json(200, { kind: 'Deployment', metadata: { name: 'redis' }, spec: { replicas: 1, selector: {}, template: {} }, status: { readyReplicas: 1 } });
  }
  if (req.method === 'GET' && url.startsWith('/api/v1/namespaces/ns/pods/gw-1/log?')) {
    return { status: 200, type: 'text/plain', body: '{"time":"2030-01-01T00:00:00.000Z","msg":"hello"}\n' };
  }
  // The API server routes on the decoded path (client-node sends `gw-1%3A8080`).
  if (req.method === 'GET' && decodeURIComponent(url) === '/api/v1/namespaces/ns/pods/gw-1:8080/proxy/readyz') {
    return json(503, { status: 'unavailable', mode: 'postgres' });
  }
  return json(404, { kind: 'Status', code: 404, message: `no route ${req.method} ${url}` });
}

describe('connectKubeApi (client-node against a stand-in API server)', () => {
  const seen: Seen[] = [];
  let server: Server;
  let kubeconfig: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], auth: req.headers.authorization, body });
        const answer = respond(req, body);
        res.writeHead(answer.status, { 'content-type': answer.type });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'matchcast-kube-')), 'config');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: stand-in, cluster: {server: "http://127.0.0.1:' + port + '", insecure-skip-tls-verify: true}}]',
        'users: [{name: runner, user: {token: chaos-token}}]',
        'contexts: [{name: ctx, context: {cluster: stand-in, user: runner, namespace: ns}}]',
        'current-context: ctx',
      ].join('\n'),
    );
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the runbook requests and reads the answers', async () => {
    expect(existsSync(DIST)).toBe(true); // built by `make test` (tsc -b) before jest runs
    const script = `
      const { connectKubeApi } = require(${JSON.stringify(DIST)});
      (async () => {
        const api = await connectKubeApi(${JSON.stringify(kubeconfig)});
        const out = {};
        out.pods = await api.listPods('ns', 'app.kubernetes.io/component=gateway');
        await api.deletePod('ns', 'gw-1', 0);
        await api.scale('ns', { kind: 'Deployment', name: 'redis' }, 0);
        await api.scale('ns', { kind: 'StatefulSet', name: 'pg' }, 1);
        out.status = await api.workloadStatus('ns', { kind: 'Deployment', name: 'redis' });
        out.log = await api.podLog('ns', 'gw-1', 'gateway', 9.2);
        out.readyz = await api.podGet('ns', 'gw-1', 8080, '/readyz');
        process.stdout.write(JSON.stringify(out));
      })().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (error, out, err) => (error ? reject(new Error(err || error.message)) : resolve(out))),
    );
    const out = JSON.parse(stdout) as Record<string, any>;

    expect(out.pods).toEqual([
      { name: 'gw-1', ip: '10.0.0.7', ready: true, terminating: false },
      { name: 'gw-2', ready: false, terminating: true },
    ]);
    expect(out.status).toEqual({ desired: 1, ready: 1 });
    expect(out.log).toContain('"msg":"hello"');
    expect(out.readyz.status).toBe(503);
    expect(JSON.parse(out.readyz.body)).toMatchObject({ mode: 'postgres' });

    const list = seen.find((s) => s.method === 'GET' && s.url.startsWith('/api/v1/namespaces/ns/pods?'))!;
    expect(decodeURIComponent(list.url)).toContain('labelSelector=app.kubernetes.io/component=gateway');
    expect(list.auth).toBe('Bearer chaos-token');
    const del = seen.find((s) => s.method === 'DELETE')!;
    expect(del.url).toMatch(/^\/api\/v1\/namespaces\/ns\/pods\/gw-1\?.*gracePeriodSeconds=0/);
    const patches = seen.filter((s) => s.method === 'PATCH');
    expect(patches.map((p) => [p.url, p.contentType, JSON.parse(p.body)])).toEqual([
      ['/apis/apps/v1/namespaces/ns/deployments/redis/scale', 'application/merge-patch+json', { spec: { replicas: 0 } }],
      ['/apis/apps/v1/namespaces/ns/statefulsets/pg/scale', 'application/merge-patch+json', { spec: { replicas: 1 } }],
    ]);
    const log = seen.find((s) => s.url.includes('/log?'))!;
    expect(log.url).toContain('container=gateway');
    expect(log.url).toContain('sinceSeconds=10');
  }, 30_000);
});
