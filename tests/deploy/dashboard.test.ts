/**
 * The Grafana dashboard (charts/matchcast/dashboards/matchcast.json) and the alert rules read
 * only metrics the code registers (prom-client registrations under packages/ and services/;
 * a histogram as _bucket/_sum/_count), the dashboard covers what an operator watches, and the
 * chart ships it as a ConfigMap for Grafana's sidecar when asked to.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolsUnavailableReason } from './support/k8s-tools';
import { CHART, helmTemplate, schemaErrors } from './support/manifests';
import { metricsInQuery, registeredSeries } from './support/metric-names';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`dashboard chart checks skipped: ${reason}`);

const DASHBOARD_FILE = join(CHART, 'dashboards', 'matchcast.json');

interface Target {
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const queryPanels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
const series = registeredSeries();

/** Metric names a query reads that no code registers. */
const unknown = (expr: string) => metricsInQuery(expr).filter((name) => !series.has(name));

describe('metric names in the code', () => {
  it('are collected from every service (the check below is live)', () => {
    for (const name of [
      'matchcast_gateway_connections',
      'matchcast_gateway_commit_to_send_seconds_bucket',
      'matchcast_gateway_commit_to_send_seconds_count',
      'matchcast_listener_leader',
      'matchcast_notifier_lag_seconds',
      'matchcast_crawler_transactions_total',
      'matchcast_api_request_duration_seconds_sum',
    ]) {
      expect([name, series.has(name)]).toEqual([name, true]);
    }
    expect(series.has('matchcast_gateway_commit_to_send_seconds')).toBe(false); // a histogram has no bare series
  });

  it('are told apart from functions, keywords, labels, strings and ranges in PromQL', () => {
    expect(
      metricsInQuery('histogram_quantile(0.99, sum by (pod, le) (rate(a_bucket{namespace=~"$namespace",code="b_total"}[$__rate_interval]))) > on (pod) group_left b offset 5m'),
    ).toEqual(['a_bucket', 'b']);
    expect(metricsInQuery('time() - max(c_timestamp_seconds) or vector(0)')).toEqual(['c_timestamp_seconds']);
    expect(unknown('sum(rate(matchcast_gateway_messages_delivered{x="1"}[5m]))')).toEqual(['matchcast_gateway_messages_delivered']);
  });
});

describe('Grafana dashboard', () => {
  it('reads only metrics the code registers, in every panel', () => {
    const problems = queryPanels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) => {
        const names = metricsInQuery(target.expr);
        if (names.length === 0) return [`${panel.title}: "${target.expr}" reads no metric`];
        return unknown(target.expr).map((name) => `${panel.title}: ${name} is not registered by any service`);
      }),
    );
    expect(problems).toEqual([]);
  });

  it('reads only registered metrics in its variables', () => {
    const queries = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => (v.query as { query: string }).query);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      const metric = /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),\s*\w+\)$/.exec(query)?.[1];
      expect([query, metric !== undefined && series.has(metric)]).toEqual([query, true]);
    }
  });

  it('shows what the operations page asks for', () => {
    const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const needed of [
      'sum by (transport) (matchcast_gateway_connections',
      'matchcast_gateway_messages_delivered_total',
      'histogram_quantile(0.99, sum by (le) (rate(matchcast_gateway_commit_to_send_seconds_bucket',
      'histogram_quantile(0.5, sum by (le) (rate(matchcast_gateway_commit_to_send_seconds_bucket',
      'max by (pod) (matchcast_gateway_broker_mode',
      'matchcast_gateway_broker_switches_total{namespace=~"$namespace",to="postgres"}',
      'matchcast_gateway_broker_switches_total{namespace=~"$namespace",to="redis"}',
      'matchcast_canary_latency_seconds_bucket',
      'matchcast_canary_last_success_timestamp_seconds',
      'matchcast_canary_failures_total',
      'matchcast_gateway_slow_consumers_total',
      'code="RESUME_TOO_OLD"',
      'matchcast_gateway_replays_total',
      'matchcast_listener_leader',
      'matchcast_listener_publish_failures_total',
      'matchcast_crawler_last_commit_timestamp_seconds',
      'matchcast_crawler_provider_lag_seconds_bucket',
      'matchcast_notifier_lag_seconds',
    ]) {
      expect([needed, exprs.includes(needed)]).toEqual([needed, true]);
    }
  });

  it('scopes every query to the chosen namespace and data source, with unique panel ids on a 24-column grid', () => {
    for (const panel of queryPanels) {
      expect([panel.title, panel.datasource?.uid]).toEqual([panel.title, '${datasource}']);
      for (const target of panel.targets ?? []) {
        for (const name of metricsInQuery(target.expr)) {
          expect([panel.title, new RegExp(`${name}\\{namespace=~"\\$namespace"`).test(target.expr)]).toEqual([panel.title, true]);
        }
      }
    }
    const ids = allPanels(dashboard.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of allPanels(dashboard.panels)) expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
  });
});

describeWithHelm('shipped in the chart', () => {
  it('the alert rules read only metrics the code registers', () => {
    const rule = helmTemplate(['--set', 'metrics.enabled=true', '--set', 'metrics.prometheusRule.enabled=true']).find((m) => m.kind === 'PrometheusRule')!;
    const rules = (rule.spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(5);
    expect(rules.flatMap((r) => unknown(r.expr).map((name) => `${r.alert}: ${name}`))).toEqual([]);
  });

  it('as a ConfigMap with the sidecar label, only when asked (and metrics are on)', () => {
    expect(helmTemplate().some((m) => m.metadata.name === 'matchcast-dashboard')).toBe(false);
    expect(helmTemplate(['--set', 'metrics.grafanaDashboard.enabled=true']).some((m) => m.metadata.name === 'matchcast-dashboard')).toBe(false);
    const manifests = helmTemplate([
      '--set', 'metrics.enabled=true',
      '--set', 'metrics.grafanaDashboard.enabled=true',
      '--set', 'metrics.grafanaDashboard.namespace=monitoring',
      '--set', 'metrics.grafanaDashboard.annotations.grafana_folder=matchcast',
    ]);
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'matchcast-dashboard')!;
    expect(schemaErrors(configMap)).toEqual([]);
    expect(configMap.metadata.namespace).toBe('monitoring');
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: '1', 'app.kubernetes.io/component': 'dashboard' });
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: 'matchcast' });
    const data = configMap.data as Record<string, string>;
    expect(Object.keys(data)).toEqual(['matchcast.json']);
    expect(JSON.parse(data['matchcast.json']!)).toEqual(dashboard);
  });
});
