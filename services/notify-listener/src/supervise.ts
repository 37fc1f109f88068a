#!/usr/bin/env node
/**
 * The notify-listener's entrypoint in the sidecar placements (charts/matchcast
 * notifyListener.placement nativeSidecar or sidecar): runs dist/main.js and keeps it running
 * inside the container (ProcessKeeper), so a listener crash, out-of-memory kill or hang costs
 * a restart of the process, never its gateway pod's readiness. SIGTERM/SIGINT are passed on
 * (the listener hands its leader lock over on the way out) and the exit code comes back.
 */
import { join } from 'node:path';
import { EnvReader, createLogger, fatal } from '@matchcast/runtime';
import { loadConfig } from './config';
import { ProcessKeeper } from './process-keeper';

function main(): void {
  const logger = createLogger('notify-listener-supervisor', 'info');
  try {
    // The listener's own configuration, checked before anything starts: a value it refuses
    // would fail every restart below while the container stayed up (and its pod ready).
    const { port } = loadConfig(new EnvReader());
    const keeper = new ProcessKeeper({
      script: join(__dirname, 'main.js'),
      // Port 0 (tests) is picked by the child: nothing to check then.
      healthUrl: port === 0 ? undefined : `http://127.0.0.1:${port}/healthz`,
      // As the chart's liveness probe was: every 10 s, 3 s timeout, 3 failures.
      checkIntervalMs: 10_000,
      checkTimeoutMs: 3000,
      maxFailedChecks: 3,
      restartDelayMs: 1000,
      maxRestartDelayMs: 10_000,
      stableAfterMs: 60_000,
      logger,
    });
    keeper.start();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => void keeper.stop(signal).then((code) => process.exit(code)));
    }
  } catch (error) {
    fatal(logger, error);
  }
}

if (require.main === module) main();
