import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { onCleanup } from '../cleanup';
import { concat } from '../stats';
import type { CollectCommand, Collected, Connected, Progress, Reconnects, WireProtocol, WorkerCommand, WorkerReply } from './messages';

/** 127.0.0.2 … 127.0.0.9: eight source addresses, each with its own ephemeral port range. */
export const LOCAL_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

/** Diagnostics only, as BENCH_GATEWAY_NODE_ARGS: e.g. BENCH_CLIENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const WORKER_NODE_ARGS = process.env.BENCH_CLIENT_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

/** One forked client worker, driven by request/reply over IPC. */
class Worker {
  private readonly child: ChildProcess;
  private readonly waiting: { type: WorkerReply['type']; resolve: (reply: WorkerReply) => void; reject: (e: Error) => void }[] = [];
  readonly exited: Promise<void>;
  readonly stop: () => Promise<void>;

  constructor(index: number) {
    this.child = fork(join(__dirname, 'worker.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: WORKER_NODE_ARGS });
    this.child.on('message', (reply: WorkerReply) => {
      if (reply.type === 'error') {
        const pending = this.waiting.shift();
        pending?.reject(new Error(`client worker ${index}: ${reply.message}`));
        return;
      }
      const at = this.waiting.findIndex((w) => w.type === reply.type);
      if (at >= 0) this.waiting.splice(at, 1)[0]?.resolve(reply);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    void this.exited.then(() => {
      for (const pending of this.waiting.splice(0)) pending.reject(new Error(`client worker ${index} exited`));
    });
    this.stop = onCleanup(`client worker ${index}`, async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request<T extends WorkerReply>(command: WorkerCommand, type: T['type'], timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client worker: no '${type}' reply within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        type,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send(command);
    });
  }
}

export interface ConnectResult {
  ok: number;
  failed: number;
  errors: string[];
  ms: number;
}

/** The benchmark's subscribers, spread over worker processes (each under its open-file limit). */
export class ClientPool {
  private readonly workers: Worker[];
  private shares: string[][][] = [];

  constructor(workerCount: number) {
    this.workers = Array.from({ length: workerCount }, (_, i) => new Worker(i));
  }

  pids(): number[] {
    return this.workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  /**
   * Opens one client per entry of `channels` and waits until each confirmed its subscription.
   * With `fallbackUrl`, a client whose connection drops reconnects there and resumes.
   */
  async connect(url: string, protocol: WireProtocol, channels: string[][], fallbackUrl?: string): Promise<ConnectResult> {
    const started = Date.now();
    this.shares = this.workers.map((_, w) => channels.filter((_, i) => i % this.workers.length === w));
    // Generous: on a shared machine under load, connecting thousands of clients takes a while.
    const timeoutMs = 30_000 + channels.length * 25;
    const replies = await Promise.all(
      this.workers.map((worker, w) =>
        worker.request<Connected>(
          { cmd: 'connect', url, protocol, channels: this.shares[w]!, localAddresses: LOCAL_ADDRESSES, concurrency: 50, timeoutMs: 20_000, fallbackUrl },
          'connected',
          timeoutMs,
        ),
      ),
    );
    return {
      ok: replies.reduce((n, r) => n + r.ok, 0),
      failed: replies.reduce((n, r) => n + r.failed, 0),
      errors: replies.flatMap((r) => r.errors),
      ms: Date.now() - started,
    };
  }

  async progress(): Promise<{ delivered: number; closed: number }> {
    const replies = await Promise.all(this.workers.map((w) => w.request<Progress>({ cmd: 'stats' }, 'stats', 10_000)));
    return { delivered: replies.reduce((n, r) => n + r.delivered, 0), closed: replies.reduce((n, r) => n + r.closed, 0) };
  }

  /** Per-worker results; `unique` of worker w lists its clients in the order of `shares[w]`. */
  async collect(command: Omit<CollectCommand, 'cmd'>): Promise<{ results: Collected[]; shares: string[][][] }> {
    const results = await Promise.all(
      this.workers.map((w) => w.request<Collected>({ cmd: 'collect', ...command }, 'collected', 60_000)),
    );
    return { results, shares: this.shares };
  }

  /** Tells the workers the run's first seq per stream: deliveries of earlier seqs are counted apart. */
  async baseline(streams: string[], firstSeq: number[]): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ cmd: 'baseline', streams, firstSeq }, 'baselined', 10_000)));
  }

  /** Each client's close and resume times, in the order `channels` was given to connect. */
  async reconnects(): Promise<{ closedAt: Float64Array; openedAt: Float64Array; resumedAt: Float64Array; attempts: number; errors: Record<string, number> }> {
    const replies = await Promise.all(this.workers.map((w) => w.request<Reconnects>({ cmd: 'reconnects' }, 'reconnects', 10_000)));
    const errors: Record<string, number> = {};
    for (const reply of replies) for (const [code, n] of Object.entries(reply.errors)) errors[code] = (errors[code] ?? 0) + n;
    return {
      closedAt: concat(replies.map((r) => r.closedAt)),
      openedAt: concat(replies.map((r) => r.openedAt)),
      resumedAt: concat(replies.map((r) => r.resumedAt)),
      attempts: replies.reduce((n, r) => n + r.attempts, 0),
      errors,
    };
  }

  /** Closes every client and stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ cmd: 'close' }, 'closed', 10_000).catch(() => undefined)));
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
