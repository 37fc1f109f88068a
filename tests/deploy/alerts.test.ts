/**
 * The chart's PrometheusRule (templates/prometheusrule.yaml), rendered by the real helm, run
 * through the real promtool (Debian's prometheus package; `make test-tools` installs it):
 * `promtool check rules`, and `promtool test rules` with the series in tests/deploy/alerts/,
 * where every alert is seen firing and not firing. Each alert's runbook_url is a heading of
 * docs/operations.md.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { toolsUnavailableReason } from './support/k8s-tools';
import { helmTemplate, type Manifest, REPO, schemaErrors } from './support/manifests';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`alert rule checks skipped: ${reason}`);

const TESTS = join(__dirname, 'alerts');
const ENABLED = ['--set', 'metrics.enabled=true', '--set', 'metrics.prometheusRule.enabled=true'];

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
type Groups = { name: string; rules: Rule[] }[];

function renderRule(args: string[] = []): Manifest | undefined {
  return helmTemplate([...ENABLED, ...args]).find((m) => m.kind === 'PrometheusRule');
}

const groupsOf = (rule: Manifest) => (rule.spec as { groups: Groups }).groups;
const alertNames = (rule: Manifest) => groupsOf(rule).flatMap((g) => g.rules.map((r) => r.alert));

function promtool(args: string[], cwd: string) {
  const result = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error(`promtool could not run (${result.error.message}): run make test-tools (Debian's prometheus package)`);
  return { status: result.status, output: result.stdout + result.stderr };
}

/** A folder with the rendered groups as matchcast-rules.yaml (the name the test files load) and the test files. */
function workspace(rule: Manifest): string {
  const dir = mkdtempSync(join(tmpdir(), 'matchcast-alerts-'));
  writeFileSync(join(dir, 'matchcast-rules.yaml'), stringify({ groups: groupsOf(rule) }));
  for (const file of testFiles()) copyFileSync(join(TESTS, file), join(dir, file));
  return dir;
}

const testFiles = () => readdirSync(TESTS).filter((f) => f.endsWith('.test.yaml')).sort();

describeWithHelm('alert rules (PrometheusRule)', () => {
  let rule: Manifest;
  beforeAll(() => {
    rule = renderRule()!;
  });

  it('are off by default, and need metrics.enabled as the ServiceMonitors do', () => {
    expect(helmTemplate().some((m) => m.kind === 'PrometheusRule')).toBe(false);
    expect(helmTemplate(['--set', 'metrics.prometheusRule.enabled=true']).some((m) => m.kind === 'PrometheusRule')).toBe(false);
    expect(rule).toBeDefined();
    expect(schemaErrors(rule)).toEqual([]);
  });

  it('cover the operations alerts; without Redis no fallback or leader alert, without the notifier no lag alert', () => {
    expect(alertNames(rule).sort()).toEqual([
      'MatchcastCanarySlow',
      'MatchcastCanaryStale',
      'MatchcastCommitToSendSlow',
      'MatchcastConnectionsDroppedAtAccept',
      'MatchcastGatewayInPostgresFallback',
      'MatchcastNoListenerLeader',
      'MatchcastNotifierLagging',
      'MatchcastOutboxNotPruned',
      'MatchcastResumeTooOld',
      'MatchcastSlowConsumerCutoffs',
    ]);
    const noRedis = alertNames(renderRule(['-f', join(REPO, 'charts', 'matchcast', 'ci', 'no-redis-values.yaml')])!);
    expect(noRedis).not.toContain('MatchcastGatewayInPostgresFallback');
    expect(noRedis).not.toContain('MatchcastNoListenerLeader');
    expect(noRedis).toContain('MatchcastCanaryStale');
    expect(alertNames(renderRule(['--set', 'notifier.enabled=false'])!)).not.toContain('MatchcastNotifierLagging');
  });

  it('read only this release namespace\'s series, and take their thresholds from values', () => {
    for (const { alert, expr } of groupsOf(rule).flatMap((g) => g.rules)) {
      expect([alert, expr.match(/namespace="matchcast"/g)?.length]).toEqual([alert, 1]);
    }
    const custom = groupsOf(renderRule(['--set-json', 'metrics.prometheusRule.commitToSendP99Seconds=0.02', '--set', 'metrics.prometheusRule.postgresFallbackFor=15m'])!).flatMap((g) => g.rules);
    expect(custom.find((r) => r.alert === 'MatchcastCommitToSendSlow')!.expr).toMatch(/> 0\.02$/);
    expect(custom.find((r) => r.alert === 'MatchcastGatewayInPostgresFallback')!.for).toBe('15m');
  });

  it('each link to its runbook entry in docs/operations.md', () => {
    const docs = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
    const anchors = new Set([...docs.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    for (const { alert, annotations } of groupsOf(rule).flatMap((g) => g.rules)) {
      expect(annotations.runbook_url).toBe(`https://github.com/matchcast/matchcast/blob/main/docs/operations.md#${alert.toLowerCase()}`);
      expect([alert, anchors.has(alert.toLowerCase())]).toEqual([alert, true]);
    }
  });

  it('pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', 'matchcast-rules.yaml'], workspace(rule));
    expect(output).toContain(`SUCCESS: ${alertNames(rule).length} rules found`);
    expect(status).toBe(0);
  });

  it('have promtool tests that see every alert both firing and not firing', () => {
    const seen = new Map<string, { firing: number; quiet: number }>();
    for (const file of testFiles()) {
      const spec = parse(readFileSync(join(TESTS, file), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
      for (const check of spec.tests.flatMap((t) => t.alert_rule_test ?? [])) {
        const counts = seen.get(check.alertname) ?? { firing: 0, quiet: 0 };
        if (check.exp_alerts.length > 0) counts.firing++;
        else counts.quiet++;
        seen.set(check.alertname, counts);
      }
    }
    for (const alert of alertNames(rule)) {
      expect([alert, seen.get(alert)?.firing ?? 0]).not.toEqual([alert, 0]);
      expect([alert, seen.get(alert)?.quiet ?? 0]).not.toEqual([alert, 0]);
    }
  });

  it.each(testFiles())('pass promtool test rules %s', (file) => {
    const { status, output } = promtool(['test', 'rules', file], workspace(rule));
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('fail those tests when the thresholds are raised (the tests can fail)', () => {
    const lax = renderRule([
      '--set', 'metrics.prometheusRule.canaryStaleSeconds=100000',
      '--set', 'metrics.prometheusRule.canaryLatencyP99Seconds=10',
      '--set', 'metrics.prometheusRule.commitToSendP99Seconds=10',
      '--set', 'metrics.prometheusRule.postgresFallbackFor=1h',
      '--set', 'metrics.prometheusRule.slowConsumerCutoffs=100000',
      '--set', 'metrics.prometheusRule.resumeTooOld=100000',
      '--set', 'metrics.prometheusRule.connectionsDroppedAtAccept=100000',
      '--set', 'metrics.prometheusRule.outboxNotPrunedSeconds=100000',
      '--set', 'metrics.prometheusRule.notifierLagSeconds=100000',
    ])!;
    const { status, output } = promtool(['test', 'rules', ...testFiles()], workspace(lax));
    expect(status).not.toBe(0);
    for (const alert of alertNames(lax).filter((a) => a !== 'MatchcastNoListenerLeader')) {
      expect([alert, output.includes(`alertname: ${alert}`)]).toEqual([alert, true]);
    }
  });
});
