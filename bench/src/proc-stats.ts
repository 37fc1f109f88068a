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
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userS: Number(fields[11]) / TICKS_PER_SECOND, systemS: Number(fields[12]) / TICKS_PER_SECOND };
}

export function cpuDelta(before: CpuTime, after: CpuTime): CpuTime & { totalS: number } {
  const userS = after.userS - before.userS;
  const systemS = after.systemS - before.systemS;
  return { userS, systemS, totalS: userS + systemS };
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
