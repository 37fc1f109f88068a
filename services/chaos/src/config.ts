import { EnvReader, POSTGRES_PROTOCOLS, REDIS_PROTOCOLS } from '@matchcast/runtime';
import { parseWorkload } from './kube-api';
import type { KubernetesClusterOptions } from './kubernetes-cluster';
import { DEFAULT_LISTENER_LOCK_KEY } from './leader';

export interface Config {
  cluster: KubernetesClusterOptions;
  warmupMs: number;
  deliveryTimeoutMs: number;
  steadyTimeoutMs: number;
  probe: boolean;
}

/** The chart's fullname rule: the release name alone when it already contains "matchcast". */
export function chartFullname(release: string): string {
  return (release.includes('matchcast') ? release : `${release}-matchcast`).slice(0, 63).replace(/-+$/, '');
}

/**
 * The runner's settings, read once. Defaults follow charts/matchcast's names and labels
 * (app.kubernetes.io/instance=<release>, app.kubernetes.io/component=<part>), so with the
 * chart installed only DATABASE_URL (and REDIS_URL, for the freeze drill) need setting.
 */
export function loadConfig(env = new EnvReader()): Config {
  const namespace = env.string('CHAOS_NAMESPACE', 'matchcast');
  const release = env.string('CHAOS_RELEASE', 'matchcast');
  const fullname = chartFullname(release);
  const selector = (component: string) => `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}`;
  const gatewayPort = env.int('CHAOS_GATEWAY_PORT', 8080, { min: 1, max: 65_535 });
  const gatewaySelector = env.string('CHAOS_GATEWAY_SELECTOR', selector('gateway'));
  const gatewayWorkload = env.string('CHAOS_GATEWAY_WORKLOAD', `deployment/${fullname}-gateway`);
  const postgresManaged = env.bool('CHAOS_POSTGRES_IN_CLUSTER', true);
  return Object.freeze({
    cluster: {
      namespace,
      databaseUrl: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
      redisUrl: env.url('REDIS_URL', REDIS_PROTOCOLS),
      // Checked here: a bad one failed only once the drill had waited for Redis mode and written its probe match.
      clientUrl: env.url('CHAOS_GATEWAY_URL', ['ws:', 'wss:']) ?? `ws://${fullname}-gateway.${namespace}.svc:${gatewayPort}/ws`,
      gateway: {
        selector: gatewaySelector,
        workload: parseWorkload(gatewayWorkload),
        container: env.string('CHAOS_GATEWAY_CONTAINER', 'gateway'),
        port: gatewayPort,
        opsPort: env.int('CHAOS_GATEWAY_OPS_PORT', 8083, { min: 1, max: 65_535 }),
      },
      // In the gateway pods by default; for notifyListener.placement=standalone set the
      // selector and workload to the listeners' own (component notify-listener).
      listener: {
        selector: env.string('CHAOS_LISTENER_SELECTOR', gatewaySelector),
        workload: parseWorkload(env.string('CHAOS_LISTENER_WORKLOAD', gatewayWorkload)),
        container: env.string('CHAOS_LISTENER_CONTAINER', 'notify-listener'),
      },
      redis: {
        selector: env.string('CHAOS_REDIS_SELECTOR', selector('redis')),
        workload: parseWorkload(env.string('CHAOS_REDIS_WORKLOAD', `deployment/${fullname}-redis`)),
      },
      postgres: postgresManaged
        ? {
            selector: env.string('CHAOS_POSTGRES_SELECTOR', selector('postgresql')),
            workload: parseWorkload(env.string('CHAOS_POSTGRES_WORKLOAD', `statefulset/${fullname}-postgresql`)),
          }
        : undefined,
      listenerLockKey: env.int('LISTENER_LOCK_KEY', DEFAULT_LISTENER_LOCK_KEY, { min: Number.MIN_SAFE_INTEGER }),
      readyTimeoutMs: env.durationMs('CHAOS_READY_TIMEOUT_MS', 120_000, { min: 1000 }),
    },
    warmupMs: env.durationMs('CHAOS_WARMUP_MS', 2000),
    deliveryTimeoutMs: env.durationMs('CHAOS_DELIVERY_TIMEOUT_MS', 60_000, { min: 1000 }),
    steadyTimeoutMs: env.durationMs('CHAOS_STEADY_TIMEOUT_MS', 60_000, { min: 1000 }),
    // The probe writes a "Chaos probe" match that every `all` subscriber sees: off in production.
    probe: env.bool('CHAOS_PROBE', true),
  });
}
