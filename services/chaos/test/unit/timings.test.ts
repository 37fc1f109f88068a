import type { LogRecord } from '../../src/cluster';
import { parseLogLines } from '../../src/cluster';
import { GATEWAY_LINES, LISTENER_LEADER_LINE, timingsFromLogs } from '../../src/timings';

const line = (source: string, time: number, msg: string): LogRecord => ({ source, time, level: 'info', msg });

describe('timingsFromLogs', () => {
  const fault = 10_000;
  const repair = 13_000;

  it('takes the slowest gateway for each time and counts switch-back from the repair', () => {
    const logs = [
      line('gw-a', fault - 500, GATEWAY_LINES.switching), // before the fault: ignored
      line('gw-a', fault + 12, GATEWAY_LINES.switching),
      line('gw-a', fault + 40, GATEWAY_LINES.fallbackDone),
      line('gw-a', repair + 900, GATEWAY_LINES.switchedBack),
      line('gw-b', fault + 30, GATEWAY_LINES.switching),
      line('gw-b', fault + 35, GATEWAY_LINES.fallbackDone),
      line('gw-b', repair + 1400, GATEWAY_LINES.switchedBack),
    ];
    const timings = timingsFromLogs(logs, [], fault, repair);
    expect(timings).toMatchObject({ fallbackMs: 30, fallbackDeliveringMs: 40, switchBackMs: 1400, leaderTakeoverMs: null });
    expect(timings.gateways).toEqual([
      { gateway: 'gw-a', fallbackMs: 12, fallbackDeliveringMs: 40, switchBackMs: 900 },
      { gateway: 'gw-b', fallbackMs: 30, fallbackDeliveringMs: 35, switchBackMs: 1400 },
    ]);
  });

  it('reports null for a gateway that never fell back, and a switch-back before the repair as 0', () => {
    const logs = [
      line('gw-a', fault + 900, GATEWAY_LINES.switching),
      line('gw-a', fault + 2000, GATEWAY_LINES.switchedBack),
      line('gw-b', fault + 100, 'gateway listening'),
    ];
    const timings = timingsFromLogs(logs, [line('l-1', fault + 300, LISTENER_LEADER_LINE)], fault, fault + 5000);
    expect(timings.fallbackMs).toBe(900);
    expect(timings.switchBackMs).toBe(0);
    expect(timings.leaderTakeoverMs).toBe(300);
    expect(timings.gateways.find((g) => g.gateway === 'gw-b')).toEqual({
      gateway: 'gw-b',
      fallbackMs: null,
      fallbackDeliveringMs: null,
      switchBackMs: null,
    });
  });
});

describe('parseLogLines', () => {
  it('reads pino JSON lines (ISO or epoch time) and skips anything else', () => {
    const text = [
      '{"level":"info","time":"2026-11-23T10:00:00.123Z","msg":"Switching to PostgreSQL direct LISTEN fallback mode"}',
      'node:events:502 throw er; // not JSON',
      '2026-11-23T10:00:01.000000000Z {"level":"warn","time":1795428001500,"msg":"kubectl --timestamps prefix"}',
      '{"level":"info","msg":"no time"}',
    ].join('\n');
    expect(parseLogLines('gw', text)).toEqual([
      { source: 'gw', time: Date.parse('2026-11-23T10:00:00.123Z'), level: 'info', msg: GATEWAY_LINES.switching },
      { source: 'gw', time: 1795428001500, level: 'warn', msg: 'kubectl --timestamps prefix' },
    ]);
  });
});
