import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A child process whose output goes to a log file and whose exit can be awaited. */
export interface ManagedChild {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
  /** Sends SIGTERM (or the given signal) and waits for the exit, then SIGKILL after a deadline. */
  stop(signal?: NodeJS.Signals, deadlineMs?: number): Promise<void>;
}

export function startChild(
  command: string,
  args: string[],
  logFile: string,
  options: SpawnOptions = {},
): ManagedChild {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  void exited.then(() => log.end());
  let done = false;
  void exited.then(() => (done = true));
  return {
    process: child,
    exited,
    signal(signal) {
      if (!done) child.kill(signal);
    },
    async stop(signal = 'SIGTERM', deadlineMs = 10_000) {
      if (done) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
