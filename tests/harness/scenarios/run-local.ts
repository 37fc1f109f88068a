import pg from 'pg';
import { humanReport, summaryLine } from '../../../services/chaos/src/report';
import { runScenario, type RunOptions, type ScenarioReport } from '../../../services/chaos/src/runner';
import { findScenario } from '../../../services/chaos/src/scenarios';
import { compare, outboxRows } from '../verify';
import type { LocalCluster } from './local-cluster';

/**
 * Runs one of the runbook's scenarios against local processes, prints its one-line JSON
 * summary (what the lead quotes), and asserts its promises: the runner's own verdict, and an
 * independent recount of every client against the outbox with the harness's compare().
 */
export async function runLocalScenario(cluster: LocalCluster, name: string, options: RunOptions = {}): Promise<ScenarioReport> {
  const report = await runScenario(cluster, findScenario(name), options);
  console.log(summaryLine(report));
  if (!report.ok) console.log(humanReport(report));

  const db = new pg.Client(cluster.databaseUrl);
  await db.connect();
  try {
    const upto = BigInt(report.window.uptoId);
    const rows = (await outboxRows(db, report.window.afterId)).filter((row) => BigInt(row.id) <= upto);
    expect(rows.length).toBe(report.events);
    for (const client of report.clients) {
      const recount = compare(rows, client.channels, client.messages);
      expect(recount.expected).toBe(client.expected);
      expect({ channels: client.channels, ...recount }).toEqual({
        channels: client.channels,
        expected: recount.expected,
        received: recount.expected,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
      });
    }
  } finally {
    await db.end();
  }
  expect(report.failures).toEqual([]);
  expect(report.events).toBeGreaterThan(0);
  return report;
}
