import { Registry, collectDefaultMetrics } from 'prom-client';

/** A registry with the process metrics (CPU, memory, event-loop lag) and a `service` label. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
