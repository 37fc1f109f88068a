import { EnvReader } from '@matchcast/runtime';
import { chartFullname, loadConfig } from '../../src/config';
import { parseWorkload } from '../../src/kube-api';
import { parseArgs } from '../../src/main';
import { SCENARIOS, findScenario } from '../../src/scenarios';

describe('runner config', () => {
  it('derives names and selectors from the chart conventions', () => {
    const config = loadConfig(new EnvReader({ DATABASE_URL: 'postgres://u@db:5432/matchcast', CHAOS_RELEASE: 'live' }));
    expect(config.cluster).toMatchObject({
      namespace: 'matchcast',
      clientUrl: 'ws://live-matchcast-gateway.matchcast.svc:8080/ws',
      gateway: {
        selector: 'app.kubernetes.io/instance=live,app.kubernetes.io/component=gateway',
        workload: { kind: 'Deployment', name: 'live-matchcast-gateway' },
        container: 'gateway',
      },
      redis: { workload: { kind: 'Deployment', name: 'live-matchcast-redis' } },
      postgres: {
        selector: 'app.kubernetes.io/instance=live,app.kubernetes.io/component=postgresql',
        workload: { kind: 'StatefulSet', name: 'live-matchcast-postgresql' },
      },
      // The listeners are the gateway pods' sidecars unless told otherwise.
      listener: {
        selector: 'app.kubernetes.io/instance=live,app.kubernetes.io/component=gateway',
        workload: { kind: 'Deployment', name: 'live-matchcast-gateway' },
        container: 'notify-listener',
      },
      listenerLockKey: 7_246_102,
    });
    expect(config.cluster.redisUrl).toBeUndefined();
    expect(config.probe).toBe(true);
  });

  it('takes overrides, and no Postgres workload for an external database', () => {
    const config = loadConfig(
      new EnvReader({
        DATABASE_URL: 'postgres://u@db/m',
        REDIS_URL: 'redis://redis:6379',
        CHAOS_REDIS_WORKLOAD: 'sts/cache',
        CHAOS_LISTENER_WORKLOAD: 'deployment/matchcast-notify-listener',
        CHAOS_POSTGRES_IN_CLUSTER: 'false',
        CHAOS_PROBE: 'false',
      }),
    );
    expect(config.cluster.redis.workload).toEqual({ kind: 'StatefulSet', name: 'cache' });
    expect(config.cluster.listener.workload).toEqual({ kind: 'Deployment', name: 'matchcast-notify-listener' });
    expect(config.cluster.postgres).toBeUndefined();
    expect(config.probe).toBe(false);
  });

  it('fails fast with the variable name', () => {
    expect(() => loadConfig(new EnvReader({}))).toThrow(/DATABASE_URL/);
    expect(() => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://x/y', CHAOS_GATEWAY_WORKLOAD: 'pod/x' }))).toThrow(/deployment/);
  });

  // Before: any string, which failed only at the clients' connect, after the drill's setup, naming no variable.
  it('refuses a CHAOS_GATEWAY_URL that is not a ws: or wss: URL', () => {
    const load = (url: string) => () => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://x/y', CHAOS_GATEWAY_URL: url }));
    expect(load('gateway:8080/ws')).toThrow('invalid configuration: CHAOS_GATEWAY_URL must use ws: or wss:, got gateway:');
    expect(load('matchcast-gateway/ws')).toThrow('invalid configuration: CHAOS_GATEWAY_URL must be a URL');
    expect(load('https://gw.example/ws')).toThrow(/CHAOS_GATEWAY_URL must use ws: or wss:/);
    expect(load('wss://gw.example/ws')().cluster.clientUrl).toBe('wss://gw.example/ws');
  });

  it('follows the chart fullname rule', () => {
    expect(chartFullname('matchcast')).toBe('matchcast');
    expect(chartFullname('matchcast-prod')).toBe('matchcast-prod');
    expect(chartFullname('prod')).toBe('prod-matchcast');
    expect(parseWorkload('deploy/redis')).toEqual({ kind: 'Deployment', name: 'redis' });
  });
});

describe('runner CLI arguments', () => {
  it('expands all and reads --kubeconfig', () => {
    expect(parseArgs(['--kubeconfig', '/k', 'redis-kill'])).toEqual({ list: false, kubeconfig: '/k', scenarios: ['redis-kill'] });
    expect(parseArgs(['all']).scenarios).toEqual(SCENARIOS.map((s) => s.name));
    expect(() => parseArgs(['--nope'])).toThrow(/unknown option/);
    expect(() => findScenario('nope')).toThrow(/redis-kill/);
  });

  it('has the seven drills, each with a fault and a probe', () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual([
      'redis-kill',
      'redis-freeze',
      'redis-outage',
      'listener-failover',
      'listener-handover',
      'postgres-restart',
      'gateway-restart',
    ]);
    for (const scenario of SCENARIOS) {
      expect(scenario.steps.some((step) => 'mark' in step && (step.mark === 'fault' || step.mark === 'outage'))).toBe(true);
      expect(scenario.steps.some((step) => step.do === 'probe')).toBe(true);
    }
  });
});
