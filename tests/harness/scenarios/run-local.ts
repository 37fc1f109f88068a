import { humanReport, summaryLine } from '../../../services/chaos/src/report';
import { runScenario, type RunOptions, type ScenarioReport } from '../../../services/chaos/src/runner';
import { findScenario } from '../../../services/chaos/src/scenarios';
import type { Cluster } from '../../../services/chaos/src/cluster';

/**
 * Runs one of the runbook's scenarios on this machine (local processes, or the compose stack),
 * prints its one-line JSON summary (what the lead quotes), and asserts its promises for every client: each event of
 * its channels in the outbox window delivered exactly once, in per-stream seq order.
 */
export async function runLocalScenario(cluster: Cluster, name: string, options: RunOptions = {}): Promise<ScenarioReport> {
  const report = await runScenario(cluster, findScenario(name), options);
  console.log(summaryLine(report));
  if (!report.ok) console.log(humanReport(report));
  expect(report.events).toBeGreaterThan(0);
  for (const client of report.clients) {
    expect(client.expected).toBeGreaterThan(0);
    expect({ channels: client.channels, lost: client.lost, duplicated: client.duplicated, outOfOrder: client.outOfOrder }).toEqual({
      channels: client.channels,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
    });
  }
  expect(report.failures).toEqual([]);
  return report;
}
