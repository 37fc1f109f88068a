import { EnvReader } from '@matchcast/runtime';
import { loadConfig } from '../../src/config';
import { SWITCH_GRACE_MS, readinessProbe, type ReadinessState } from '../../src/http/readiness';

const HEALTHY: ReadinessState = { draining: false, sequencerReady: true, delivering: true, mode: 'redis', connections: 0 };

describe('readinessProbe', () => {
  it('is ready while delivering with headroom, and fails at the ready limit (below WS_MAX_CONNECTIONS)', () => {
    let state = { ...HEALTHY, connections: 899 };
    const probe = readinessProbe(() => state, 900);
    expect(probe()).toEqual({ ok: true, detail: { mode: 'redis', draining: false, connections: 899, full: false, switching: false } });
    state = { ...state, connections: 900 };
    expect(probe()).toMatchObject({ ok: false, detail: { full: true, connections: 900 } });
    state = { ...state, connections: 100 };
    expect(probe().ok).toBe(true);
  });

  it('stays ready through a switch between paths, and fails when no path comes back within the grace', () => {
    let clock = 0;
    let state: ReadinessState = { ...HEALTHY };
    const probe = readinessProbe(() => state, 10, () => clock);
    expect(probe().ok).toBe(true);
    state = { ...state, delivering: false, mode: 'postgres' };
    clock = SWITCH_GRACE_MS - 1;
    expect(probe()).toMatchObject({ ok: true, detail: { switching: true } });
    clock = SWITCH_GRACE_MS;
    expect(probe()).toMatchObject({ ok: false, detail: { switching: false } });
    state = { ...state, delivering: true };
    expect(probe().ok).toBe(true);
  });

  it('is not ready before it has ever delivered (no grace at start)', () => {
    expect(readinessProbe(() => ({ ...HEALTHY, delivering: false }), 10, () => 0)().ok).toBe(false);
  });

  it.each([
    ['draining', { draining: true }],
    ['no delivery path', { delivering: false }],
    ['sequencer not ready', { sequencerReady: false }],
  ])('fails when %s', (_, change) => {
    expect(readinessProbe(() => ({ ...HEALTHY, ...change }), 10)().ok).toBe(false);
  });
});

describe('READY_MAX_CONNECTIONS_RATIO', () => {
  const config = (env: Record<string, string>) => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://db/x', ...env }));

  it('defaults to 90 % of WS_MAX_CONNECTIONS, and the ops port to 8083', () => {
    const loaded = config({ WS_MAX_CONNECTIONS: '1000' });
    expect(loaded.ws.readyMaxConnections).toBe(900);
    expect(loaded.opsPort).toBe(8083);
  });

  it('takes a ratio up to 1 (readiness fails only when full)', () => {
    expect(config({ WS_MAX_CONNECTIONS: '1000', READY_MAX_CONNECTIONS_RATIO: '1' }).ws.readyMaxConnections).toBe(1000);
    expect(config({ WS_MAX_CONNECTIONS: '3', READY_MAX_CONNECTIONS_RATIO: '0.1' }).ws.readyMaxConnections).toBe(1);
  });

  it.each(['0', '1.5', 'x'])('refuses %p with the variable name', (value) => {
    expect(() => config({ READY_MAX_CONNECTIONS_RATIO: value })).toThrow(/READY_MAX_CONNECTIONS_RATIO/);
  });

  it('refuses an ops port out of range', () => {
    expect(() => config({ OPS_PORT: '70000' })).toThrow(/OPS_PORT/);
  });
});
