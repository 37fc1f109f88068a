import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime: CPU of children that exited and were waited for, seconds. */
  reaped: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      own: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND,
      reaped: (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** A component of the run: its processes, and whether their children count too (Postgres backends). */
export interface Component {
  name: string;
  pids: () => number[];
  withChildren?: boolean;
}

/**
 * Where the machine's CPU goes during a run, per component (gateway, listener, Redis, Postgres,
 * clients, the bench itself): shows which one saturates first on a small machine.
 */
export class CpuBudget {
  constructor(private readonly components: Component[]) {}

  /**
   * Cumulative CPU seconds per component, plus `other` (everything else on the machine:
   * kernel threads such as ksoftirqd doing loopback TCP work, other processes) and `steal`.
   */
  read(): Record<string, number> {
    const needChildren = this.components.some((c) => c.withChildren);
    const children = new Map<number, number[]>();
    if (needChildren) {
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const s = stat(Number(entry));
        if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), Number(entry)]);
      }
    }
    const out: Record<string, number> = {};
    for (const component of this.components) {
      let total = 0;
      for (const pid of component.pids()) {
        const s = stat(pid);
        if (!s) continue;
        total += s.own;
        if (component.withChildren) {
          total += s.reaped;
          for (const child of children.get(pid) ?? []) total += stat(child)?.own ?? 0;
        }
      }
      out[component.name] = total;
    }
    const machine = machineCpu();
    out.other = machine.busy - Object.values(out).reduce((a, b) => a + b, 0);
    out.steal = machine.steal;
    return out;
  }

  /** Cores used per component between two reads over `seconds` of wall time. */
  static cores(before: Record<string, number>, after: Record<string, number>, seconds: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, value] of Object.entries(after)) out[name] = (value - (before[name] ?? 0)) / seconds;
    return out;
  }
}

/** Busy (non-idle, non-iowait, non-steal) and stolen CPU seconds of the whole machine, from /proc/stat. */
function machineCpu(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return { busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / TICKS_PER_SECOND, steal: (steal ?? 0) / TICKS_PER_SECOND };
}

/** The postmaster's pid, from the first line of postmaster.pid in the data directory. */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
}
