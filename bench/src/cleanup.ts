/**
 * Everything the benchmark starts registers its stop here, so that a normal end, an error,
 * Ctrl-C or the overall deadline all stop every process and remove every temp directory.
 */
type Task = { name: string; run: () => Promise<unknown> | unknown };

const tasks: Task[] = [];
let running: Promise<void> | undefined;

/** Registers a stop action; returns a function that runs it now (and unregisters it). */
export function onCleanup(name: string, run: () => Promise<unknown> | unknown): () => Promise<void> {
  const task: Task = { name, run };
  tasks.push(task);
  return async () => {
    const index = tasks.indexOf(task);
    if (index < 0) return;
    tasks.splice(index, 1);
    await runOne(task);
  };
}

async function runOne(task: Task): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(task.run),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 20_000);
      }),
    ]);
  } catch (error) {
    console.error(`cleanup: ${task.name} failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops everything still registered, newest first. Safe to call more than once. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (tasks.length > 0) {
      const task = tasks.pop();
      if (task) await runOne(task);
    }
  })();
  return running;
}

/** Ctrl-C, SIGTERM and the overall deadline end the run through cleanupAll. */
export function installExitHandlers(maxMs: number): void {
  let signalled = false;
  const stop = (why: string, code: number) => {
    if (signalled) {
      console.error(`${why} again: exiting now`);
      process.exit(code);
    }
    signalled = true;
    console.error(`\n${why}: stopping every process the benchmark started…`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => stop('interrupted', 130));
  process.on('SIGTERM', () => stop('terminated', 143));
  const deadline = setTimeout(() => stop(`deadline of ${Math.round(maxMs / 60_000)} min exceeded`, 1), maxMs);
  deadline.unref();
}
