/**
 * What the fuzz properties need of a service under fuzz, judged from the outside: is the
 * process alive, /healthz, RSS and CPU from /proc, its log since a point (a crash's stack),
 * and a restart after a crash so later runs (and fast-check's shrinking) see a fresh process.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ServiceProcess } from '../../harness/stack';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ProcSample {
  pid: number;
  rssKb: number;
  cpuTicks: number;
}

export abstract class ProcessUnderFuzz {
  /** (Re)starts, each with the reason. */
  readonly restarts: { at: string; reason: string; pid: number | undefined }[] = [];
  /** RSS (kB) of each pid shortly after it became ready (and, for the first, warmed up). */
  readonly baselines = new Map<number, number>();

  /** The process under fuzz (its log: logLines, logTail). */
  abstract get service(): ServiceProcess;
  /** Where /healthz answers. */
  abstract get opsBase(): string;
  /** Kills (if needed) and starts the process again on the same ports, then waits for readiness. */
  abstract restart(reason: string): Promise<void>;

  get name(): string {
    return this.service.service;
  }

  recordBaseline(): void {
    const sample = this.sample();
    if (sample) this.baselines.set(sample.pid, sample.rssKb);
  }

  get pid(): number | undefined {
    return this.service.child?.process.pid;
  }

  /** True while the child has not exited. */
  alive(): boolean {
    const child = this.service.child?.process;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** How the process ended, once it has. */
  exitDescription(): string {
    const child = this.service.child?.process;
    return `exit code ${child?.exitCode ?? 'none'}, signal ${child?.signalCode ?? 'none'}`;
  }

  logOffset(): number {
    try {
      return statSync(this.service.logFile).size;
    } catch {
      return 0;
    }
  }

  async healthz(timeoutMs = 3000): Promise<number | string> {
    try {
      const res = await fetch(`${this.opsBase}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      return `unreachable (${(error as Error).message})`;
    }
  }

  /** RSS (VmRSS) and CPU time (utime + stime, clock ticks) of the process, from /proc. */
  sample(): ProcSample | undefined {
    const pid = this.pid;
    if (!pid || !this.alive()) return undefined;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rssKb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuTicks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of stat(5)
      return { pid, rssKb, cpuTicks };
    } catch {
      return undefined;
    }
  }

  /** Waits a little for a dying process's exit to be observed. */
  async settleExit(ms = 300): Promise<void> {
    const child = this.service.child;
    if (!child || ms <= 0) return;
    await Promise.race([child.exited, sleep(ms)]);
  }
}
