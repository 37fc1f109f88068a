import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const TICKS_PER_SECOND = 100;

export interface CpuTime {
  userS: number;
  systemS: number;
}

/**
 * A process's CPU time from /proc/<pid>/stat: utime and stime (fields 14 and 15), which
 * cover all its threads (V8 GC helpers and libuv's pool included). 10 ms resolution.
 */
export function cpuTime(pid: number): CpuTime {
  const fields = statFields(pid);
  return { userS: Number(fields[11]) / TICKS_PER_SECOND, systemS: Number(fields[12]) / TICKS_PER_SECOND };
}

/** /proc/<pid>/stat from field 3 on: the command name (field 2) may contain spaces. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

export function cpuDelta(before: CpuTime, after: CpuTime): CpuTime & { totalS: number } {
  const userS = after.userS - before.userS;
  const systemS = after.systemS - before.systemS;
  return { userS, systemS, totalS: userS + systemS };
}

/**
 * What a process asked of the kernel, to explain its system time: read- and write-class syscalls
 * (/proc/<pid>/io syscr, syscw: read, write and writev on sockets count, epoll_wait does not) and
 * minor page faults (stat field 10), all threads; context switches (/proc/<pid>/status), the main
 * thread's, where the event loop runs.
 */
export interface KernelCounters {
  reads: number;
  writes: number;
  minorFaults: number;
  contextSwitches: number;
}

export function kernelCounters(pid: number): KernelCounters {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    reads: field(io, 'syscr'),
    writes: field(io, 'syscw'),
    minorFaults: Number(statFields(pid)[7]),
    contextSwitches: field(status, 'voluntary_ctxt_switches') + field(status, 'nonvoluntary_ctxt_switches'),
  };
}

/** `after − before`, each counter divided by `per` (e.g. deliveries). */
export function kernelCountersPer(before: KernelCounters, after: KernelCounters, per: number): KernelCounters {
  const rate = (key: keyof KernelCounters) => (after[key] - before[key]) / per;
  return { reads: rate('reads'), writes: rate('writes'), minorFaults: rate('minorFaults'), contextSwitches: rate('contextSwitches') };
}

/** Resident set size in KiB from /proc/<pid>/status (VmRSS). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** The pid of the redis-server behind a URL (INFO's process_id), for reading its CPU time. */
export async function redisProcessId(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    const info = await redis.info('server');
    return Number(/process_id:(\d+)/.exec(info)?.[1]);
  } finally {
    redis.disconnect();
  }
}
