import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { parseLogLines, type Cluster, type Component, type GatewayState, type LogRecord } from '../../../services/chaos/src/cluster';
import { waitFor } from '../stack';

const REPO = join(__dirname, '..', '..', '..');

interface ComposeService {
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
}

/** docker-compose.yml's own values: the edge's published port, the gateway's ops port, the admin login, the health checks. */
function composeFacts() {
  const compose = parseDocument(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8')).toJS() as { services: Record<string, ComposeService> };
  const { postgres, gateway, edge } = compose.services;
  const published = edge!.ports![0]!.split(':'); // host address : host port : container port
  const pg = postgres!.environment!;
  return {
    services: compose.services,
    edge: `${published[0]}:${published[1]}`,
    gatewayOpsPort: Number(gateway!.environment!.OPS_PORT),
    admin: { user: pg.POSTGRES_USER!, password: pg.POSTGRES_PASSWORD!, database: pg.POSTGRES_DB! },
  };
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * A running `docker-compose.yml` stack (`make test-compose` brings it up and names the project in
 * COMPOSE_PROJECT_NAME; docker-compose finds the files through COMPOSE_FILE). Faults are the
 * engine's own operations on the service's container — kill, stop, start, pause, restart, as
 * `docker-compose kill redis` does, but through the docker CLI so that a fault's time is the
 * moment it happens, not a Python start-up later. Clients connect through the edge's published
 * port, as a user's browser does; the gateway's mode comes from /readyz on its ops port and the
 * outbox from Postgres, both at their container addresses (reachable from the Docker host,
 * published nowhere).
 */
export class ComposeCluster implements Cluster {
  readonly kind = 'compose';
  private readonly facts = composeFacts();
  private readonly project: string;
  private readonly ids = new Map<string, string>();
  private readonly addresses = new Map<string, string>();
  databaseUrl = '';

  constructor() {
    const project = process.env.COMPOSE_PROJECT_NAME;
    if (!project) throw new Error('COMPOSE_PROJECT_NAME is not set: run through make test-compose');
    this.project = project;
  }

  /** Resolves the Postgres address; call once the stack is up. */
  async start(): Promise<this> {
    const { user, password, database } = this.facts.admin;
    this.databaseUrl = `postgres://${user}:${encodeURIComponent(password)}@${await this.address('postgres')}:5432/${database}`;
    return this;
  }

  clientUrls(): string[] {
    return [`ws://${this.facts.edge}/ws`];
  }

  /** `docker-compose <args>` on this project, as a user types it. */
  compose(args: string[], timeoutMs = 120_000): Promise<string> {
    return run('docker-compose', args, timeoutMs);
  }

  private async docker(args: string[], timeoutMs = 60_000): Promise<string> {
    return (await run('docker', args, timeoutMs)).trim();
  }

  /** The service's container id (one container per service here; it keeps its id across stop and start). */
  async container(service: string): Promise<string> {
    const cached = this.ids.get(service);
    if (cached) return cached;
    const labels = [`com.docker.compose.project=${this.project}`, `com.docker.compose.service=${service}`];
    const id = (await this.docker(['ps', '-aq', ...labels.flatMap((label) => ['--filter', `label=${label}`])])).split('\n')[0];
    if (!id) throw new Error(`project ${this.project} has no container for ${service}`);
    this.ids.set(service, id);
    return id;
  }

  /** The service's address on the project network (looked up again after a restart). */
  private async address(service: string): Promise<string> {
    const cached = this.addresses.get(service);
    if (cached) return cached;
    const ip = await this.docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', await this.container(service)]);
    if (!ip) throw new Error(`${service} has no address (not running?)`);
    this.addresses.set(service, ip);
    return ip;
  }

  /** The container's health status (healthy, unhealthy, starting), or its state when it has no check. */
  async health(service: string): Promise<string> {
    return this.docker(['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', await this.container(service)]);
  }

  /** A one-shot container's end: its state and exit code. */
  async exit(service: string): Promise<{ status: string; code: number }> {
    const [status, code] = (await this.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', await this.container(service)])).split(' ');
    return { status: status!, code: Number(code) };
  }

  /** Resolves once the service passes its own compose health check, run now rather than at its next interval. */
  async awaitAnswering(service: string, timeoutMs = 60_000): Promise<void> {
    this.addresses.delete(service);
    const [kind, ...test] = this.facts.services[service]!.healthcheck!.test;
    // CMD-SHELL is one shell string in which compose turns $$ into $.
    const command = kind === 'CMD-SHELL' ? ['sh', '-c', test.join(' ').replaceAll('$$', '$')] : test;
    const id = await this.container(service);
    await waitFor(`${service} to pass its health check`, () => this.docker(['exec', id, ...command], 10_000).then(() => true), timeoutMs, 250);
  }

  async killRedis(): Promise<void> {
    await this.docker(['kill', await this.container('redis')]);
  }

  async stopRedis(): Promise<void> {
    await this.docker(['stop', await this.container('redis')]);
  }

  async startRedis(): Promise<void> {
    await this.docker(['start', await this.container('redis')]);
    await this.awaitAnswering('redis');
  }

  async freezeRedis(): Promise<void> {
    await this.docker(['pause', await this.container('redis')]);
  }

  async resumeRedis(): Promise<void> {
    await this.docker(['unpause', await this.container('redis')]);
  }

  /** One listener here: it is the leader. */
  async killListenerLeader(): Promise<string> {
    await this.docker(['kill', await this.container('notify-listener')]);
    return 'notify-listener';
  }

  async restoreListeners(): Promise<void> {
    await this.docker(['start', await this.container('notify-listener')]);
    await this.awaitAnswering('notify-listener');
  }

  async restartPostgres(): Promise<void> {
    await this.docker(['restart', await this.container('postgres')]);
    await this.awaitAnswering('postgres');
  }

  async stopGateway(index: number): Promise<void> {
    if (index !== 0) throw new Error(`no gateway ${index}: compose runs one`);
    await this.docker(['stop', await this.container('gateway')]);
  }

  async startGateway(index: number): Promise<void> {
    if (index !== 0) throw new Error(`no gateway ${index}: compose runs one`);
    await this.docker(['start', await this.container('gateway')]);
    await this.awaitAnswering('gateway');
  }

  async gatewayStates(): Promise<GatewayState[]> {
    let mode: GatewayState['mode'];
    try {
      const res = await fetch(`http://${await this.address('gateway')}:${this.facts.gatewayOpsPort}/readyz`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { mode?: unknown };
      mode = body.mode === 'redis' || body.mode === 'postgres' ? body.mode : undefined;
    } catch {
      mode = undefined;
    }
    return [{ name: 'gateway', mode }];
  }

  /** /metrics from the gateway's ops port (published nowhere; read at its container address). */
  async gatewayMetrics(): Promise<string> {
    const res = await fetch(`http://${await this.address('gateway')}:${this.facts.gatewayOpsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  }

  async logs(component: Component, sinceMs: number): Promise<LogRecord[]> {
    const text = await this.docker(['logs', await this.container(component)]); // pino writes to stdout
    return parseLogLines(component, text).filter((record) => record.time >= sinceMs);
  }
}
