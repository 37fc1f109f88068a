import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { parseLogLines, type Cluster, type Component, type GatewayState, type LogRecord } from '../../../services/chaos/src/cluster';
import { listenerLeaderId } from '../../../services/chaos/src/leader';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../stack';

export interface LocalClusterOptions {
  /** Prefix of process and log names (one cluster per test file). */
  name: string;
  gateways?: number;
  listeners?: number;
  /** Crawler transactions per second. */
  eventsPerSecond?: number;
  /** Extra env for every gateway / listener (tests that tune timeouts). */
  gatewayEnv?: Record<string, string>;
  listenerEnv?: Record<string, string>;
}

/**
 * The whole system as real processes on this machine: Postgres and Redis (testkit), two
 * notify-listeners (leader and standby), one or two gateways and the crawler, all from
 * dist/. Faults are signals: SIGKILL, SIGTERM, SIGSTOP/SIGCONT, a Postgres fast restart.
 */
export class LocalCluster implements Cluster {
  readonly kind = 'local';
  readonly infra = new Infra();
  readonly gateways: GatewayProcess[] = [];
  readonly listeners: ServiceProcess[] = [];
  crawler: ServiceProcess | undefined;
  /** Times the crawler died and was started again (Kubernetes' restartPolicy does the same). */
  crawlerRestarts = 0;
  private db: pg.Pool | undefined;
  private destroying = false;

  constructor(private readonly options: LocalClusterOptions) {}

  get databaseUrl(): string {
    return this.infra.postgres.url;
  }

  clientUrls(): string[] {
    return this.gateways.map((gateway) => gateway.wsUrl);
  }

  async start(): Promise<this> {
    const { name } = this.options;
    await this.infra.start(true);
    // The harness's assertion client dies with a Postgres restart; the cluster uses its own pool.
    this.infra.db.on('error', () => undefined);
    this.db = new pg.Pool({ connectionString: this.databaseUrl, max: 1 });
    this.db.on('error', () => undefined);
    const base = { DATABASE_URL: this.infra.postgres.url, REDIS_URL: this.infra.redis.url };

    for (let i = 0; i < (this.options.listeners ?? 2); i++) {
      const id = `${name}-listener-${i}`;
      const env = { ...base, LISTENER_ID: id, LISTENER_HOST: '127.0.0.1', LISTENER_PORT: String(await freePort()), ...this.options.listenerEnv };
      this.listeners.push(new ServiceProcess('notify-listener', env, id).start());
      // The first one leads, the rest stand by: a known starting point for the failover drill.
      if (i === 0) await waitFor(`${id} to lead`, async () => ((await this.leader()) === id ? true : undefined));
    }

    this.crawler = new ServiceProcess(
      'crawler',
      {
        DATABASE_URL: this.infra.postgres.url,
        CRAWLER_PORT: String(await freePort()),
        CRAWLER_SEED: '11',
        CRAWLER_ID_PREFIX: `${name}-`,
        CRAWLER_EVENTS_PER_SECOND: String(this.options.eventsPerSecond ?? 80),
        CRAWLER_CONCURRENT_MATCHES: '6',
        CRAWLER_MATCH_MINUTE_MS: '500',
      },
      `${name}-crawler`,
    ).start();
    this.superviseCrawler();

    for (let i = 0; i < (this.options.gateways ?? 2); i++) {
      const gateway = new GatewayProcess(await freePort(), await freePort(), { ...base, ...this.options.gatewayEnv }, `${name}-gateway-${i}`);
      this.gateways.push(gateway.start());
    }
    await Promise.all(this.gateways.map((gateway) => gateway.ready()));
    return this;
  }

  /** Keeps the writer going like a Deployment would, and says so when it had to. */
  private superviseCrawler(): void {
    const crawler = this.crawler!;
    void crawler.child!.exited.then((code) => {
      if (this.destroying) return;
      this.crawlerRestarts++;
      console.warn(`crawler exited with code ${code}; starting it again (see ${crawler.logFile})`);
      setTimeout(() => {
        if (this.destroying) return;
        crawler.start();
        this.superviseCrawler();
      }, 500).unref();
    });
  }

  /** The listener id holding the leader lock, from Postgres. */
  leader(): Promise<string | undefined> {
    return listenerLeaderId(this.db!);
  }

  async killRedis(): Promise<void> {
    await this.infra.redis.kill();
  }

  async stopRedis(): Promise<void> {
    await this.infra.redis.stop();
  }

  async startRedis(): Promise<void> {
    if (!this.infra.redis.running) await this.infra.redis.start();
  }

  async freezeRedis(): Promise<void> {
    this.infra.redis.signal('SIGSTOP');
  }

  async resumeRedis(): Promise<void> {
    this.infra.redis.signal('SIGCONT');
  }

  killListenerLeader(): Promise<string> {
    return this.signalListenerLeader('SIGKILL');
  }

  stopListenerLeader(): Promise<string> {
    return this.signalListenerLeader('SIGTERM');
  }

  private async signalListenerLeader(signal: NodeJS.Signals): Promise<string> {
    const leader = await this.leader();
    const process = this.listeners.find((listener) => listener.name === leader);
    if (!leader || !process) throw new Error(`no local listener holds the leader lock (holder: ${leader ?? 'none'})`);
    await process.stop(signal);
    return leader;
  }

  /** Restarts every listener that is not running (the killed leader comes back as a standby). */
  async restoreListeners(): Promise<void> {
    for (const listener of this.listeners) {
      if (listener.child && (await isExited(listener))) listener.start();
    }
  }

  async restartPostgres(): Promise<void> {
    await this.infra.postgres.restart();
  }

  private gateway(index: number): GatewayProcess {
    const gateway = this.gateways[index];
    if (!gateway) throw new Error(`no gateway ${index}`);
    return gateway;
  }

  async stopGateway(index: number): Promise<void> {
    await this.gateway(index).stop('SIGTERM');
  }

  /** Starts it again on the same port, like a restarted container behind the same address. */
  async startGateway(index: number): Promise<void> {
    const gateway = this.gateway(index).start();
    await gateway.ready();
  }

  async gatewayStates(): Promise<GatewayState[]> {
    return Promise.all(
      this.gateways.map(async (gateway) => {
        const mode = await gateway.mode();
        return { name: gateway.name, mode: mode === 'redis' || mode === 'postgres' ? mode : undefined };
      }),
    );
  }

  async logs(component: Component, sinceMs: number): Promise<LogRecord[]> {
    const processes = component === 'gateway' ? this.gateways : this.listeners;
    return processes.flatMap((process) =>
      existsSync(process.logFile)
        ? parseLogLines(process.name, readFileSync(process.logFile, 'utf8')).filter((record) => record.time >= sinceMs)
        : [],
    );
  }

  async destroy(): Promise<void> {
    this.destroying = true;
    const all = [...this.gateways, ...this.listeners, ...(this.crawler ? [this.crawler] : [])];
    this.infra.redis.signal('SIGCONT'); // a frozen Redis would not stop
    await Promise.all(all.map((process) => process.stop().catch(() => undefined)));
    await this.db?.end().catch(() => undefined);
    await this.infra.destroy();
  }
}

async function isExited(process: ServiceProcess): Promise<boolean> {
  const exited = process.child?.exited;
  if (!exited) return true;
  return Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 0))]);
}
