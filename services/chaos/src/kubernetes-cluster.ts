import pg from 'pg';
import { Redis } from 'ioredis';
import { parseLogLines, type BrokerMode, type Cluster, type Component, type GatewayState, type LogRecord } from './cluster';
import type { KubeApi, PodInfo, WorkloadRef } from './kube-api';
import { listenerLeaderId, matchLeader } from './leader';
import { RedisPause } from './redis-pause';

export interface KubernetesClusterOptions {
  namespace: string;
  /** Read by the runner for the outbox count, and here to find the listener leader. */
  databaseUrl: string;
  /** Needed for freezeRedis (CLIENT PAUSE) and to confirm Redis answers after a restart. */
  redisUrl: string | undefined;
  /** WebSocket URL clients use: the gateway Service (or an ingress). */
  clientUrl: string;
  gateway: { selector: string; workload: WorkloadRef; container: string; port: number; /** /readyz lives here. */ opsPort: number };
  /** Where the notify-listeners run: the gateway pods (sidecars), or their own Deployment. */
  listener: { selector: string; workload: WorkloadRef; container: string };
  redis: { selector: string; workload: WorkloadRef };
  /** Undefined when Postgres is not run by the chart (an external database cannot be restarted here). */
  postgres: { selector: string; workload: WorkloadRef } | undefined;
  listenerLockKey: number;
  /** How long a pod may take to be replaced and ready. */
  readyTimeoutMs: number;
  /** How often to look at pods and workloads while waiting. */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The runbook (docs/operations.md) through the Kubernetes API: delete the Redis pod, scale the Redis
 * workload to 0 and back, delete the listener leader's pod, delete the Postgres pod, delete
 * a gateway pod (which drains). Observes modes through each gateway pod's /readyz (directly,
 * or through the API server's pod proxy) and logs through the pod log API.
 */
export class KubernetesCluster implements Cluster {
  readonly kind = 'kubernetes';
  private readonly db: pg.Pool;
  private readonly pause: RedisPause | undefined;
  private readonly pollMs: number;
  /** Pods deleted by a fault: a replacement must not be one of these. */
  private readonly gone = new Set<string>();

  constructor(
    private readonly api: KubeApi,
    private readonly options: KubernetesClusterOptions,
  ) {
    this.db = new pg.Pool({ connectionString: options.databaseUrl, max: 1, application_name: 'matchcast-chaos' });
    this.db.on('error', () => undefined);
    this.pause = options.redisUrl ? new RedisPause(options.redisUrl) : undefined;
    this.pollMs = options.pollMs ?? 500;
  }

  get databaseUrl(): string {
    return this.options.databaseUrl;
  }

  clientUrls(): string[] {
    return [this.options.clientUrl];
  }

  private get ns(): string {
    return this.options.namespace;
  }

  private async livePods(selector: string): Promise<PodInfo[]> {
    const pods = await this.api.listPods(this.ns, selector);
    return pods.filter((pod) => !pod.terminating).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Deletes every running pod of `selector`; 0 s grace is a crash. Returns their names. */
  private async deletePods(selector: string, what: string, gracePeriodSeconds?: number): Promise<string[]> {
    const pods = await this.livePods(selector);
    if (pods.length === 0) throw new Error(`no ${what} pod matches ${selector} in namespace ${this.ns}`);
    for (const pod of pods) {
      this.gone.add(pod.name);
      await this.api.deletePod(this.ns, pod.name, gracePeriodSeconds);
    }
    return pods.map((pod) => pod.name);
  }

  /** Waits until the workload has all its replicas ready, none of them a deleted pod. */
  private async awaitReady(selector: string, workload: WorkloadRef): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    let seen = '';
    for (;;) {
      const [status, pods] = await Promise.all([this.api.workloadStatus(this.ns, workload), this.api.listPods(this.ns, selector)]);
      const ready = pods.filter((pod) => pod.ready && !pod.terminating && !this.gone.has(pod.name));
      const leftovers = pods.filter((pod) => this.gone.has(pod.name));
      seen = `${ready.length}/${status.desired} ready, ${leftovers.length} old pods left`;
      if (status.desired > 0 && ready.length >= status.desired && status.ready >= status.desired && leftovers.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`${workload.kind.toLowerCase()}/${workload.name} not ready after ${this.options.readyTimeoutMs} ms (${seen})`);
      }
      await sleep(this.pollMs);
    }
  }

  async killRedis(): Promise<void> {
    await this.deletePods(this.options.redis.selector, 'redis', 0);
  }

  async stopRedis(): Promise<void> {
    const { selector, workload } = this.options.redis;
    for (const pod of await this.livePods(selector)) this.gone.add(pod.name);
    await this.api.scale(this.ns, workload, 0);
  }

  async startRedis(): Promise<void> {
    const { selector, workload } = this.options.redis;
    const status = await this.api.workloadStatus(this.ns, workload);
    if (status.desired === 0) await this.api.scale(this.ns, workload, 1);
    await this.awaitReady(selector, workload);
    if (this.options.redisUrl) await this.awaitRedisPing(this.options.redisUrl);
  }

  /** The Service can lag behind the pod: Redis counts as back when it answers through the URL clients use. */
  private async awaitRedisPing(url: string): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    for (;;) {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
      try {
        await redis.connect();
        if ((await redis.ping()) === 'PONG') return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`Redis does not answer at the configured URL`, { cause: error });
      } finally {
        redis.disconnect();
      }
      await sleep(200);
    }
  }

  async freezeRedis(plannedMs: number): Promise<void> {
    if (!this.pause) throw new Error('freezing Redis needs REDIS_URL (the runner sends CLIENT PAUSE)');
    await this.pause.pause(plannedMs);
  }

  async resumeRedis(): Promise<void> {
    await this.pause?.waitForEnd();
  }

  /**
   * The listener is a sidecar: the only way to kill it through the API is to delete its pod,
   * which takes that pod's gateway down too (its clients reconnect to another pod and resume).
   */
  killListenerLeader(): Promise<string> {
    return this.deleteLeaderPod(0);
  }

  /** Deletes the leader's pod with its own grace period: the listener gets SIGTERM and hands over. */
  stopListenerLeader(): Promise<string> {
    return this.deleteLeaderPod(undefined);
  }

  private async deleteLeaderPod(gracePeriodSeconds: number | undefined): Promise<string> {
    const leader = await listenerLeaderId(this.db, this.options.listenerLockKey);
    if (!leader) throw new Error('no notify-listener holds the leader lock');
    const pods = await this.livePods(this.options.listener.selector);
    const pod = matchLeader(leader, pods.map((p) => p.name));
    if (!pod) throw new Error(`the leader "${leader}" is not one of the listener pods (${pods.map((p) => p.name).join(', ')})`);
    this.gone.add(pod);
    await this.api.deletePod(this.ns, pod, gracePeriodSeconds);
    return leader;
  }

  async restoreListeners(): Promise<void> {
    await this.awaitReady(this.options.listener.selector, this.options.listener.workload);
  }

  async restartPostgres(): Promise<void> {
    const postgres = this.options.postgres;
    if (!postgres) throw new Error('Postgres is external (not run by the chart): the postgres-restart scenario cannot restart it');
    await this.deletePods(postgres.selector, 'postgres');
    await this.awaitReady(postgres.selector, postgres.workload);
    const deadline = Date.now() + this.options.readyTimeoutMs;
    for (;;) {
      try {
        await this.db.query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error('Postgres does not accept queries after the restart', { cause: error });
        await sleep(200);
      }
    }
  }

  /**
   * Deletes one gateway pod with its normal grace period, so it drains (preStop, SIGTERM,
   * clients closed with 1012), and waits until it is gone. Its clients reconnect through the
   * Service to the other pods meanwhile.
   */
  async stopGateway(index: number): Promise<void> {
    const pods = await this.livePods(this.options.gateway.selector);
    const pod = pods[index % Math.max(1, pods.length)];
    if (!pod) throw new Error(`no gateway pod matches ${this.options.gateway.selector}`);
    this.gone.add(pod.name);
    await this.api.deletePod(this.ns, pod.name);
    const deadline = Date.now() + this.options.readyTimeoutMs;
    while ((await this.api.listPods(this.ns, this.options.gateway.selector)).some((p) => p.name === pod.name)) {
      if (Date.now() > deadline) throw new Error(`gateway pod ${pod.name} still there after ${this.options.readyTimeoutMs} ms`);
      await sleep(this.pollMs);
    }
  }

  /** The Deployment replaces the pod by itself: wait until every replica is ready again. */
  async startGateway(): Promise<void> {
    await this.restoreListeners();
  }

  async gatewayStates(): Promise<GatewayState[]> {
    const pods = await this.livePods(this.options.gateway.selector);
    return Promise.all(pods.map(async (pod) => ({ name: pod.name, mode: await this.podMode(pod) })));
  }

  /** /readyz's mode: straight to the pod IP (in-cluster), else through the API server's proxy. */
  private async podMode(pod: PodInfo): Promise<BrokerMode | undefined> {
    const port = this.options.gateway.opsPort;
    let body: string | undefined;
    if (pod.ip) {
      try {
        const response = await fetch(`http://${pod.ip}:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
        body = await response.text();
      } catch {
        body = undefined;
      }
    }
    if (body === undefined) {
      try {
        body = (await this.api.podGet(this.ns, pod.name, port, '/readyz')).body;
      } catch {
        return undefined;
      }
    }
    return modeOf(body);
  }

  async logs(component: Component, sinceMs: number): Promise<LogRecord[]> {
    const { container, selector } = component === 'gateway' ? this.options.gateway : this.options.listener;
    const pods = await this.api.listPods(this.ns, selector);
    const sinceSeconds = (Date.now() - sinceMs) / 1000 + 1;
    const texts = await Promise.all(
      pods.map(async (pod) => {
        try {
          return parseLogLines(pod.name, await this.api.podLog(this.ns, pod.name, container, sinceSeconds));
        } catch {
          return []; // a pod that just started or just went away
        }
      }),
    );
    return texts.flat().filter((record) => record.time >= sinceMs);
  }

  async close(): Promise<void> {
    await this.db.end().catch(() => undefined);
  }
}

export function modeOf(readyzBody: string): BrokerMode | undefined {
  try {
    const mode = (JSON.parse(readyzBody) as { mode?: unknown }).mode;
    return mode === 'redis' || mode === 'postgres' ? mode : undefined;
  } catch {
    return undefined;
  }
}
