/**
 * Fault schedules for the client property (tests/chaos/client-schedules.test.ts): what the
 * clients subscribe to and where they connect, and a short list of timed faults — proxy cuts,
 * partitions (with a flap after), slow-network periods, gateway SIGKILLs and drains (restarted on the same port), Redis kills
 * (restarted on the same port) — that run while the writer commits updates.
 */
import fc from 'fast-check';

/** Channel templates; `l1`/`l2` are the run's two leagues, `l1-m1`… its matches. */
export const CHANNEL_KEYS = ['all', 'live:all', 'league:l1', 'league:l2', 'match:l1-m1', 'match:l1-m2', 'match:l2-m3'] as const;
export type ChannelKey = (typeof CHANNEL_KEYS)[number];
/** Where a client connects: through proxy 0/1 (in front of gateway 0/1) or to a gateway directly. */
export type UrlKey = 'proxy0' | 'proxy1' | 'gateway0' | 'gateway1';

export interface ClientSpec {
  channels: ChannelKey[];
  urls: UrlKey[];
  /** The client's `maxResume`: 1 or 2 leave streams to `since`. */
  maxResume: number;
}

export type Fault =
  | { kind: 'cut'; proxy: 0 | 1 }
  | { kind: 'slow'; proxy: 0 | 1; latencyMs: number; forMs: number }
  /** Cut and refuse connections for `forMs`; then, when `flapAfterMs` is set, cut each new
   * connection that long after it opens, for 1.5 s (the path comes back, drops once more). */
  | { kind: 'partition'; proxy: 0 | 1; forMs: number; flapAfterMs: number | null }
  | { kind: 'killGateway'; gateway: 0 | 1; downMs: number }
  | { kind: 'drainGateway'; gateway: 0 | 1; downMs: number }
  | { kind: 'killRedis'; downMs: number };

export type Step = Fault & { atMs: number };

export interface Schedule {
  writerSeed: number;
  clients: ClientSpec[];
  steps: Step[];
}

const side = fc.constantFrom<0 | 1>(0, 1);
const downMs = fc.integer({ min: 0, max: 3000 });

export const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), proxy: side }),
  fc.record({ kind: fc.constant('slow' as const), proxy: side, latencyMs: fc.integer({ min: 20, max: 700 }), forMs: fc.integer({ min: 300, max: 3000 }) }),
  fc.record({
    kind: fc.constant('partition' as const),
    proxy: side,
    forMs: fc.integer({ min: 500, max: 7000 }),
    flapAfterMs: fc.option(fc.integer({ min: 5, max: 600 }), { nil: null }),
  }),
  fc.record({ kind: fc.constant('killGateway' as const), gateway: side, downMs }),
  fc.record({ kind: fc.constant('drainGateway' as const), gateway: side, downMs }),
  fc.record({ kind: fc.constant('killRedis' as const), downMs: fc.integer({ min: 300, max: 3000 }) }),
);

export const stepArb: fc.Arbitrary<Step> = fc
  .tuple(fc.integer({ min: 0, max: 9000 }), faultArb)
  .map(([atMs, fault]) => ({ atMs, ...fault }));

export const clientArb: fc.Arbitrary<ClientSpec> = fc.record({
  channels: fc.subarray([...CHANNEL_KEYS], { minLength: 1, maxLength: 3 }),
  urls: fc.constantFrom<UrlKey[]>(['proxy0'], ['proxy1'], ['proxy0', 'proxy1'], ['proxy1', 'proxy0'], ['proxy0', 'gateway1'], ['gateway0', 'gateway1']),
  maxResume: fc.constantFrom(1, 2, 100),
});

export const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  writerSeed: fc.integer({ min: 1, max: 0x7fffffff }),
  clients: fc.array(clientArb, { minLength: 2, maxLength: 4 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 5 }).map((steps) => [...steps].sort((a, b) => a.atMs - b.atMs)),
});

/** When the last fault of a schedule is over (its restart or slow period included). */
export function faultsEndMs(schedule: Schedule): number {
  return Math.max(
    0,
    ...schedule.steps.map((step) => step.atMs + ('downMs' in step ? step.downMs : 0) + ('forMs' in step ? step.forMs : 0) + (step.kind === 'partition' && step.flapAfterMs !== null ? 1500 : 0)),
  );
}

/** A one-line description of a step, for the logs. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'cut':
      return `@${step.atMs} cut proxy${step.proxy}`;
    case 'slow':
      return `@${step.atMs} slow proxy${step.proxy} +${step.latencyMs}ms for ${step.forMs}ms`;
    case 'partition':
      return `@${step.atMs} partition proxy${step.proxy} for ${step.forMs}ms${step.flapAfterMs === null ? '' : `, then cut new connections after ${step.flapAfterMs}ms for 1.5s`}`;
    case 'killGateway':
      return `@${step.atMs} SIGKILL gateway${step.gateway}, restart after ${step.downMs}ms`;
    case 'drainGateway':
      return `@${step.atMs} SIGTERM (drain) gateway${step.gateway}, restart after ${step.downMs}ms`;
    case 'killRedis':
      return `@${step.atMs} SIGKILL redis, restart after ${step.downMs}ms`;
  }
}
