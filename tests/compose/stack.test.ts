/**
 * docker-compose.yml, running for real (`make test-compose`: scripts/test-compose.sh builds the
 * images without a registry, brings the stack up, waits for its health checks, runs this file and
 * tears the stack down). Every service is healthy by its own health check and the one-shot steps
 * succeeded; through the edge's published port, as a browser: the scoreboard page, the API (its
 * development sign-in and a signed-in request) and a live update over WebSocket. Then the
 * runbook's Redis drill with `docker-compose kill redis` / `start redis`: updates keep coming on
 * an open socket while Redis is down (the gateway on its own Postgres LISTEN) and after it is
 * back (the gateway on Redis again); and the scenario runner's `redis-kill` with clients on many
 * streams: every event of their channels in the outbox delivered exactly once, in order, the
 * fallback and the switch back within the runbook's limits.
 */
import WebSocket from 'ws';
import { ComposeCluster } from '../harness/scenarios/compose-cluster';
import { runLocalScenario } from '../harness/scenarios/run-local';
import { waitFor } from '../harness/stack';

jest.setTimeout(180_000);

const LONG_RUNNING = ['postgres', 'redis', 'notify-listener', 'gateway', 'crawler', 'api', 'notifier', 'edge'];
const ONE_SHOT = ['db-users', 'migrate'];

/** A socket through the edge subscribed to `all`, counting the updates (messages of a stream) it gets. */
class UpdateCounter {
  updates = 0;
  closed = false;
  readonly errors: unknown[] = [];
  private readonly ws: WebSocket;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('open', () => this.ws.send(JSON.stringify({ action: 'subscribe', channels: ['all'] })));
    this.ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type?: string; stream?: unknown; seq?: unknown };
      if (message.type === 'error') this.errors.push(message);
      if (typeof message.stream === 'string' && typeof message.seq === 'number') this.updates++;
    });
    this.ws.on('close', () => (this.closed = true));
    this.ws.on('error', (error) => this.errors.push(error));
  }

  /** Resolves once `count` more updates than now have arrived. */
  more(count: number, what: string, timeoutMs = 30_000): Promise<true> {
    const target = this.updates + count;
    return waitFor(what, async () => (this.updates >= target ? true : undefined), timeoutMs, 50);
  }

  close(): void {
    this.ws.close();
  }
}

/** A counter of the gateway's /metrics with these labels (0 when absent). */
function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('docker-compose.yml, up', () => {
  const cluster = new ComposeCluster();
  const edge = () => cluster.clientUrls()[0]!.replace(/^ws:/, 'http:').replace(/\/ws$/, '');

  beforeAll(async () => {
    await cluster.start();
  });

  it.each(LONG_RUNNING)('%s is healthy by its own health check', async (service) => {
    expect(await cluster.health(service)).toBe('healthy');
  });

  it.each(ONE_SHOT)('%s ran once and exited 0', async (service) => {
    expect(await cluster.exit(service)).toEqual({ status: 'exited', code: 0 });
  });

  it('the edge serves the scoreboard page, the gateway\'s match list and the API', async () => {
    const page = await fetch(`${edge()}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const matches = await fetch(`${edge()}/api/matches`);
    expect(matches.status).toBe(200);
    const signIn = await fetch(`${edge()}/api/dev/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"user":"compose-test"}' });
    expect(signIn.status).toBe(200);
    const { token } = (await signIn.json()) as { token: string };
    const notifications = await fetch(`${edge()}/api/notifications`, { headers: { Authorization: `Bearer ${token}` } });
    expect(notifications.status).toBe(200);
    expect(await fetch(`${edge()}/api/notifications`).then((r) => r.status)).toBe(401);
  });

  it('a live update reaches a WebSocket client through the edge', async () => {
    const counter = new UpdateCounter(cluster.clientUrls()[0]!);
    try {
      await counter.more(1, 'a live update over WebSocket through the edge');
      expect(counter.errors).toEqual([]);
    } finally {
      counter.close();
    }
  });

  it('Redis killed: updates keep coming through the gateway\'s own LISTEN; Redis started: the gateway switches back and they still come', async () => {
    const counter = new UpdateCounter(cluster.clientUrls()[0]!);
    const before = await cluster.gatewayMetrics();
    try {
      await counter.more(1, 'a first update');
      // The runbook's commands, as typed.
      await cluster.compose(['kill', 'redis']);
      await waitFor('the gateway in postgres mode', async () => ((await cluster.gatewayStates())[0]!.mode === 'postgres' ? true : undefined), 15_000, 100);
      await counter.more(3, 'updates while Redis is down');
      await cluster.compose(['start', 'redis']);
      await waitFor('the gateway back in redis mode', async () => ((await cluster.gatewayStates())[0]!.mode === 'redis' ? true : undefined), 30_000, 100);
      await counter.more(3, 'updates with Redis back');
      expect({ closed: counter.closed, errors: counter.errors }).toEqual({ closed: false, errors: [] });
    } finally {
      counter.close();
    }
    const after = await cluster.gatewayMetrics();
    const switches = (to: string, text: string) => metric(text, 'matchcast_gateway_broker_switches_total', `to="${to}"`);
    expect(switches('postgres', after)).toBeGreaterThan(switches('postgres', before));
    expect(switches('redis', after)).toBeGreaterThan(switches('redis', before));
    expect(metric(after, 'matchcast_gateway_broker_mode', 'mode="redis"')).toBe(1);
  });

  it('redis-kill with clients on many streams: nothing lost, nothing doubled, order kept; fallback and switch back in time', async () => {
    const report = await runLocalScenario(cluster, 'redis-kill', { warmupMs: 2000 });
    expect(report.fallbackMs).not.toBeNull();
    expect(report.switchBackMs).not.toBeNull();
  });
});
