import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop lag is sampled. prom-client's default (10 ms) wakes an idle process
 * 100 times a second; at 100 ms an idle gateway with 2,500 clients spent ~2 ms of CPU a second
 * less (docs/benchmarks.md, "Light load"), and a stall of 100 ms or more is still seen whole.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** A registry with the process metrics (CPU, memory, event-loop lag) and a `service` label. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}
