import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseLogLines } from '../../../services/chaos/src/cluster';
import type { LocalCluster } from './local-cluster';

export interface KubeStandInOptions {
  namespace: string;
  /** The chart's release: pods carry app.kubernetes.io/instance=<release>. */
  release: string;
  /** The bearer token every request must carry (a ServiceAccount's, in a cluster). */
  token: string;
  /** The gateway container's ops port, as the pod proxy path names it. */
  opsPort: number;
  /** How long a replacement Redis pod takes to start (scheduling, image, container start). */
  restartDelayMs: number;
}

type RedisPodState = 'starting' | 'running' | 'terminating';

interface RedisPod {
  name: string;
  state: RedisPodState;
}

/**
 * A stand-in for the Kubernetes API server (no cluster runs on these machines), speaking the
 * REST paths @kubernetes/client-node sends for the runbook runner (services/chaos/src/kube-api.ts),
 * in front of a LocalCluster of real processes: its gateways are the pods of the gateway
 * Deployment, its redis-server the pod of the Redis Deployment. Deleting the Redis pod kills the
 * process (SIGKILL with grace 0, else SIGTERM) and, as a ReplicaSet does, a replacement pod starts
 * a new redis-server on the same address after `restartDelayMs`; scaling the Deployment to 0 stops
 * it, back to 1 starts it. Pod logs are the processes' log files; /readyz is reached through the
 * pod proxy path. Gateway pods are not deleted here (the Redis drills do not need it).
 */
export class KubeStandIn {
  /** Every request, as "METHOD path?query" (decoded), for the test to check what the runner sent. */
  readonly requests: string[] = [];
  /** redis-server processes started for replacement pods. */
  redisStarts = 0;
  /** While true, replacement Redis pods never start (a node that cannot run them). */
  holdRedis = false;
  private readonly server: Server;
  private readonly redisPods: RedisPod[] = [];
  private redisReplicas = 1;
  private serial = 0;
  /** Redis process operations run one at a time, as a kubelet's would. */
  private redisWork: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: LocalCluster,
    private readonly options: KubeStandInOptions,
  ) {
    this.redisPods.push({ name: this.redisPodName(), state: 'running' });
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.handle(req, body).then(
          (answer) => send(res, answer),
          (error: unknown) => send(res, status(500, (error as Error).message)),
        );
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig for this server and token, written into `dir`. */
  writeKubeconfig(dir: string): string {
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        // Plain HTTP on loopback: client-node refuses http:// unless TLS verification is off.
        `clusters: [{name: stand-in, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: chaos, user: {token: ${this.options.token}}}]`,
        `contexts: [{name: chaos, context: {cluster: stand-in, user: chaos, namespace: ${this.options.namespace}}}]`,
        'current-context: chaos',
      ].join('\n'),
    );
    return path;
  }

  /** Ends `holdRedis`: pods left starting start their Redis now. */
  async releaseRedis(): Promise<void> {
    this.holdRedis = false;
    await this.redisWork;
    for (const pod of this.redisPods.filter((p) => p.state === 'starting')) {
      await this.cluster.startRedis();
      this.redisStarts++;
      pod.state = 'running';
    }
  }

  /** Waits for Redis work in flight (a replacement starting), then stops serving. */
  async close(): Promise<void> {
    await this.redisWork;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private redisPodName(): string {
    return `${this.options.release}-redis-${String(++this.serial).padStart(3, '0')}`;
  }

  private async handle(req: IncomingMessage, body: string): Promise<Answer> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = decodeURIComponent(url.pathname);
    this.requests.push(`${req.method} ${path}${url.search ? `?${decodeURIComponent(url.search.slice(1))}` : ''}`);
    if (req.headers.authorization !== `Bearer ${this.options.token}`) return status(401, 'Unauthorized');
    const ns = this.options.namespace;
    let match: RegExpExecArray | null;
    if (req.method === 'GET' && path === `/api/v1/namespaces/${ns}/pods`) {
      return json(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: await this.pods(url.searchParams.get('labelSelector') ?? '') });
    }
    if ((match = new RegExp(`^/api/v1/namespaces/${ns}/pods/([^/:]+):(\\d+)/proxy(/.*)$`).exec(path)) && req.method === 'GET') {
      return this.proxy(match[1]!, Number(match[2]), match[3]!);
    }
    if ((match = new RegExp(`^/api/v1/namespaces/${ns}/pods/([^/]+)/log$`).exec(path)) && req.method === 'GET') {
      return this.log(match[1]!, url.searchParams.get('container') ?? '', Number(url.searchParams.get('sinceSeconds') ?? 0));
    }
    if ((match = new RegExp(`^/api/v1/namespaces/${ns}/pods/([^/]+)$`).exec(path)) && req.method === 'DELETE') {
      const grace = url.searchParams.get('gracePeriodSeconds');
      return this.deletePod(match[1]!, grace === null ? undefined : Number(grace));
    }
    if ((match = new RegExp(`^/apis/apps/v1/namespaces/${ns}/deployments/([^/]+)/scale$`).exec(path)) && req.method === 'PATCH') {
      if (req.headers['content-type'] !== 'application/merge-patch+json') return status(415, `unsupported patch type ${req.headers['content-type']}`);
      return this.scale(match[1]!, (JSON.parse(body) as { spec: { replicas: number } }).spec.replicas);
    }
    if ((match = new RegExp(`^/apis/apps/v1/namespaces/${ns}/deployments/([^/]+)$`).exec(path)) && req.method === 'GET') {
      return this.deployment(match[1]!);
    }
    return status(404, `the stand-in has no ${req.method} ${path}`);
  }

  private labels(component: string): Record<string, string> {
    return { 'app.kubernetes.io/instance': this.options.release, 'app.kubernetes.io/component': component };
  }

  private gatewayPodName(index: number): string {
    return `${this.options.release}-gateway-${index}`;
  }

  private async pods(selector: string): Promise<unknown[]> {
    const wanted = selector.split(',').filter(Boolean).map((term) => term.split('=') as [string, string]);
    const pods: { name: string; labels: Record<string, string>; ready: boolean; terminating: boolean }[] = [];
    const gateways = await Promise.all(this.cluster.gateways.map(async (gateway) => (await gateway.readyz().catch(() => undefined))?.status === 200));
    gateways.forEach((ready, i) => pods.push({ name: this.gatewayPodName(i), labels: this.labels('gateway'), ready, terminating: false }));
    for (const pod of this.redisPods) {
      pods.push({ name: pod.name, labels: this.labels('redis'), ready: pod.state === 'running', terminating: pod.state === 'terminating' });
    }
    return pods
      .filter((pod) => wanted.every(([key, value]) => pod.labels[key] === value))
      .map((pod) => ({
        metadata: {
          name: pod.name,
          namespace: this.options.namespace,
          labels: pod.labels,
          ...(pod.terminating ? { deletionTimestamp: new Date().toISOString() } : {}),
        },
        // No podIP: the runner outside the cluster reaches /readyz through the proxy path.
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }] },
      }));
  }

  private async proxy(pod: string, port: number, path: string): Promise<Answer> {
    const index = this.cluster.gateways.findIndex((_, i) => this.gatewayPodName(i) === pod);
    if (index < 0) return status(404, `pods "${pod}" not found`);
    if (port !== this.options.opsPort) return status(503, `error trying to reach service: dial tcp :${port}: connect: connection refused`);
    try {
      const response = await fetch(`http://127.0.0.1:${this.cluster.gateways[index]!.opsPort}${path}`, { signal: AbortSignal.timeout(2000) });
      return { status: response.status, type: response.headers.get('content-type') ?? 'text/plain', body: await response.text() };
    } catch (error) {
      return status(503, `error trying to reach service: ${(error as Error).message}`);
    }
  }

  /** What a container wrote in the last `sinceSeconds` (the log API's sinceSeconds). */
  private log(pod: string, container: string, sinceSeconds: number): Answer {
    const index = this.cluster.gateways.findIndex((_, i) => this.gatewayPodName(i) === pod);
    const process = container === 'gateway' ? this.cluster.gateways[index] : container === 'notify-listener' ? this.cluster.listeners[index] : undefined;
    if (index < 0 || !process) return status(400, `container ${container} is not valid for pod ${pod}`);
    const since = Date.now() - sinceSeconds * 1000;
    const lines = existsSync(process.logFile) ? readFileSync(process.logFile, 'utf8').split('\n') : [];
    const recent = lines.filter((line) => parseLogLines(pod, line).some((record) => record.time >= since));
    return { status: 200, type: 'text/plain', body: recent.map((line) => `${line}\n`).join('') };
  }

  private deletePod(name: string, gracePeriodSeconds: number | undefined): Answer {
    const pod = this.redisPods.find((p) => p.name === name && p.state !== 'terminating');
    if (!pod) {
      if (this.cluster.gateways.some((_, i) => this.gatewayPodName(i) === name)) return status(405, 'the stand-in does not delete gateway pods');
      return status(404, `pods "${name}" not found`);
    }
    this.terminate(pod, gracePeriodSeconds === 0 ? 'kill' : 'stop');
    this.reconcileRedis();
    return json(200, { kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: this.options.namespace } });
  }

  private scale(name: string, replicas: number): Answer {
    if (name !== `${this.options.release}-redis`) return status(405, `the stand-in scales only ${this.options.release}-redis`);
    this.redisReplicas = replicas;
    this.reconcileRedis();
    return json(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name }, spec: { replicas } });
  }

  private deployment(name: string): Answer {
    const desired = name === `${this.options.release}-redis` ? this.redisReplicas : name === `${this.options.release}-gateway` ? this.cluster.gateways.length : undefined;
    if (desired === undefined) return status(404, `deployments.apps "${name}" not found`);
    const ready = name.endsWith('-redis') ? this.redisPods.filter((p) => p.state === 'running').length : desired;
    return json(200, { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name }, spec: { replicas: desired, selector: {}, template: {} }, status: { readyReplicas: ready } });
  }

  /** The pod goes away with its process: at once for a kill, after a clean shutdown for a stop. */
  private terminate(pod: RedisPod, how: 'kill' | 'stop'): void {
    pod.state = 'terminating';
    this.redisWork = this.redisWork.then(async () => {
      await (how === 'kill' ? this.cluster.killRedis() : this.cluster.stopRedis());
      this.redisPods.splice(this.redisPods.indexOf(pod), 1);
    });
  }

  /** The ReplicaSet: as many live pods as replicas, a replacement starting Redis after the delay. */
  private reconcileRedis(): void {
    const live = this.redisPods.filter((p) => p.state !== 'terminating');
    for (const pod of live.slice(this.redisReplicas)) this.terminate(pod, 'stop');
    for (let i = live.length; i < this.redisReplicas; i++) {
      const pod: RedisPod = { name: this.redisPodName(), state: 'starting' };
      this.redisPods.push(pod);
      this.redisWork = this.redisWork.then(async () => {
        await new Promise((resolve) => setTimeout(resolve, this.options.restartDelayMs));
        if (this.holdRedis || pod.state !== 'starting') return;
        await this.cluster.startRedis();
        this.redisStarts++;
        pod.state = 'running';
      });
    }
  }
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

function json(code: number, value: unknown): Answer {
  return { status: code, type: 'application/json', body: JSON.stringify(value) };
}

/** A Kubernetes Status object, as the API server answers errors. */
function status(code: number, message: string): Answer {
  return json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message });
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, { 'content-type': answer.type });
  res.end(answer.body);
}
