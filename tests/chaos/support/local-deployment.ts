/**
 * A Kubernetes Deployment and its Service, played with local gateway processes: the Service is a
 * TCP proxy that sends each new connection to the next ready, non-terminating pod (round robin,
 * as kube-proxy does); a deleted pod leaves the Service at once, sleeps its preStop, then gets
 * SIGTERM (the gateway drains). `rollingUpdate` replaces every pod as the Deployment controller
 * does with maxUnavailable 0: at most replicas + maxSurge pods that are not terminating, and one
 * old pod deleted per new pod that has stayed ready for minReadySeconds.
 */
import { GatewayProcess, freePort } from '../../harness/stack';
import { TcpProxy } from './tcp-proxy';

export interface RolloutStrategy {
  maxSurge: number;
  minReadyMs: number;
  /** The preStop sleep: the pod is out of the Service but not yet signalled. */
  preStopMs: number;
  /**
   * How much longer than the process's own start a new pod takes to become ready (image pull,
   * scheduling on a real node). Longer than preStop + drain, a drained pod's clients reconnect
   * before the next new pod is ready: the case a one-pod-at-a-time rollout moves clients twice.
   */
  startupMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LocalDeployment {
  readonly service: TcpProxy;
  readonly pods: GatewayProcess[] = [];
  private readonly endpoints: GatewayProcess[] = [];
  private readonly readyAt = new Map<GatewayProcess, number>();
  private readonly terminating = new Set<GatewayProcess>();
  private turn = 0;
  private created = 0;

  constructor(
    private readonly replicas: number,
    private readonly env: Record<string, string>,
    private readonly name: string,
  ) {
    this.service = new TcpProxy(() => this.pick());
  }

  get wsUrl(): string {
    return this.service.wsUrl;
  }

  async start(): Promise<this> {
    await this.service.start();
    const pods = await Promise.all(Array.from({ length: this.replicas }, () => this.createPod()));
    await this.untilReady(pods);
    return this;
  }

  async rollingUpdate(strategy: RolloutStrategy): Promise<void> {
    const old = this.pods.filter((pod) => !this.terminating.has(pod));
    const fresh: GatewayProcess[] = [];
    const terminations: Promise<void>[] = [];
    let deleted = 0;
    while (deleted < old.length) {
      while (fresh.length < this.replicas && fresh.length + old.length - deleted < this.replicas + strategy.maxSurge) {
        fresh.push(await this.createPod(strategy.startupMs));
      }
      const now = Date.now();
      const available = fresh.filter((pod) => now - (this.readyAt.get(pod) ?? Infinity) >= strategy.minReadyMs).length;
      while (deleted < Math.min(old.length, available)) terminations.push(this.terminate(old[deleted++]!, strategy.preStopMs));
      await sleep(50);
    }
    await Promise.all(terminations);
    await this.untilReady(fresh);
  }

  async destroy(): Promise<void> {
    await this.service.stop();
    await Promise.all(this.pods.map((pod) => pod.stop().catch(() => undefined)));
  }

  private pick(): number | undefined {
    if (this.endpoints.length === 0) return undefined;
    return this.endpoints[this.turn++ % this.endpoints.length]!.port;
  }

  private async createPod(startupMs = 0): Promise<GatewayProcess> {
    const pod = new GatewayProcess(await freePort(), await freePort(), this.env, `${this.name}-pod-${this.created++}`).start();
    this.pods.push(pod);
    // The endpoints controller: the pod joins the Service once its readiness passes.
    void pod.ready(60_000).then(async () => {
      await sleep(startupMs);
      this.readyAt.set(pod, Date.now());
      if (!this.terminating.has(pod)) this.endpoints.push(pod);
    });
    return pod;
  }

  private async untilReady(pods: GatewayProcess[]): Promise<void> {
    while (!pods.every((pod) => this.readyAt.has(pod))) await sleep(50);
  }

  private async terminate(pod: GatewayProcess, preStopMs: number): Promise<void> {
    this.terminating.add(pod);
    this.endpoints.splice(this.endpoints.indexOf(pod), 1);
    await sleep(preStopMs);
    await pod.stop('SIGTERM');
  }
}
