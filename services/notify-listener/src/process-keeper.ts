import { spawn, type ChildProcess } from 'node:child_process';
import { exponentialMs, type Logger } from '@matchcast/runtime';

export interface ProcessKeeperOptions {
  /** The program to keep running (run with this Node binary). */
  script: string;
  /** Its /healthz; undefined: no health checks (only exits are noticed). */
  healthUrl: string | undefined;
  checkIntervalMs: number;
  checkTimeoutMs: number;
  /** Consecutive failed checks before the process is killed (and restarted). */
  maxFailedChecks: number;
  restartDelayMs: number;
  maxRestartDelayMs: number;
  /** A process that ran this long before exiting restarts after restartDelayMs again. */
  stableAfterMs: number;
  logger: Logger;
}

/**
 * Keeps one child process running inside its container: restarts it after a crash or an
 * out-of-memory kill, and kills and restarts it when its /healthz stops answering (what a
 * liveness probe would do). The container itself never exits for those, so a sidecar's
 * trouble never takes its pod out of its Service: Kubernetes counts a restarting container,
 * native sidecar or not, as not ready.
 */
export class ProcessKeeper {
  private child: ChildProcess | undefined;
  private stopping: Promise<number> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private failedChecks = 0;
  private restartCount = 0;

  constructor(private readonly options: ProcessKeeperOptions) {}

  get restarts(): number {
    return this.restartCount;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.spawn();
    if (this.options.healthUrl) this.checkTimer = setInterval(() => void this.check(), this.options.checkIntervalMs);
  }

  /** Passes the signal on and resolves with the child's exit code once it is gone. Safe twice. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    this.stopping ??= new Promise<number>((resolve) => {
      clearInterval(this.checkTimer);
      clearTimeout(this.restartTimer);
      const child = this.child;
      if (!child) return resolve(0);
      child.once('exit', (code) => resolve(code ?? 1));
      child.kill(signal);
    });
    return this.stopping;
  }

  private spawn(): void {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [this.options.script], { stdio: 'inherit', env: process.env });
    this.child = child;
    this.failedChecks = 0;
    this.options.logger.info({ pid: child.pid, restarts: this.restartCount }, 'notify-listener process started');
    child.on('exit', (code, signal) => {
      this.child = undefined;
      if (this.stopping) return;
      if (Date.now() - startedAt >= this.options.stableAfterMs) this.attempt = 0;
      const delayMs = exponentialMs(this.attempt++, this.options.restartDelayMs, this.options.maxRestartDelayMs);
      this.restartCount += 1;
      this.options.logger.error(
        { code, signal, restarts: this.restartCount, delay_ms: delayMs },
        'notify-listener process exited; restarting it inside its container (the pod stays ready)',
      );
      this.restartTimer = setTimeout(() => this.spawn(), delayMs);
    });
  }

  private async check(): Promise<void> {
    const child = this.child;
    if (!child || this.stopping) return;
    let ok = false;
    try {
      const response = await fetch(this.options.healthUrl!, { signal: AbortSignal.timeout(this.options.checkTimeoutMs) });
      await response.arrayBuffer();
      ok = response.ok;
    } catch {
      ok = false;
    }
    if (ok || child !== this.child) {
      this.failedChecks = 0;
      return;
    }
    this.failedChecks += 1;
    if (this.failedChecks >= this.options.maxFailedChecks && !this.stopping) {
      this.options.logger.error({ failed_checks: this.failedChecks, pid: child.pid }, 'notify-listener does not answer /healthz; killing it');
      child.kill('SIGKILL');
    }
  }
}
