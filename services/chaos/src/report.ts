import type { ScenarioReport } from './runner';

/** The one-line JSON summary printed per scenario (quotable; snake_case like our logs). */
export function summaryLine(report: ScenarioReport): string {
  return JSON.stringify({
    chaos: report.scenario,
    cluster: report.cluster,
    ok: report.ok,
    outage_ms: report.outageMs,
    fallback_ms: report.fallbackMs,
    fallback_delivering_ms: report.fallbackDeliveringMs,
    switch_back_ms: report.switchBackMs,
    leader_takeover_ms: report.leaderTakeoverMs,
    polled_fallback_ms: report.polled.fallbackMs,
    polled_switch_back_ms: report.polled.switchBackMs,
    events: report.events,
    clients: report.clients.length,
    deliveries: report.deliveriesExpected,
    received: report.deliveriesReceived,
    lost: report.lost,
    duplicated: report.duplicated,
    out_of_order: report.outOfOrder,
    reconnects: report.reconnects,
    duration_ms: report.durationMs,
    ...(report.failures.length > 0 ? { failures: report.failures } : {}),
  });
}

const ms = (value: number | null) => (value === null ? '—' : `${value} ms`);

/** A few readable lines for a person at a terminal. */
export function humanReport(report: ScenarioReport): string {
  const lines = [
    `${report.ok ? 'PASS' : 'FAIL'}  ${report.scenario}: ${report.title}`,
    `  outage ${ms(report.outageMs)}; fallback ${ms(report.fallbackMs)} (delivering ${ms(report.fallbackDeliveringMs)}), ` +
      `switch back ${ms(report.switchBackMs)}, leader takeover ${ms(report.leaderTakeoverMs)}`,
    `  events ${report.events}; deliveries ${report.deliveriesReceived}/${report.deliveriesExpected} to ` +
      `${report.clients.length} clients: lost ${report.lost}, duplicated ${report.duplicated}, ` +
      `out of order ${report.outOfOrder}, reconnects ${report.reconnects}`,
  ];
  for (const gateway of report.gateways) {
    lines.push(
      `  ${gateway.gateway}: fallback ${ms(gateway.fallbackMs)}, delivering ${ms(gateway.fallbackDeliveringMs)}, back ${ms(gateway.switchBackMs)}`,
    );
  }
  for (const failure of report.failures) lines.push(`  ! ${failure}`);
  return lines.join('\n');
}
