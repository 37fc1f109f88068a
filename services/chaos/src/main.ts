#!/usr/bin/env node
/**
 * matchcast-chaos: runs the runbook's failure drills (docs/operations.md) against a
 * Kubernetes cluster and prints, per scenario, the same report as the chaos tests (a
 * readable block on stderr, a one-line JSON summary on stdout). Exit code 0 when every
 * scenario kept its promises.
 *
 *   matchcast-chaos --list
 *   matchcast-chaos [--kubeconfig <path>] <scenario>... | all
 */
import { ConfigError } from '@matchcast/runtime';
import { loadConfig } from './config';
import { connectKubeApi } from './kube-api';
import { KubernetesCluster } from './kubernetes-cluster';
import { humanReport, summaryLine } from './report';
import { runScenario } from './runner';
import { SCENARIOS, findScenario } from './scenarios';

interface Args {
  list: boolean;
  kubeconfig: string | undefined;
  scenarios: string[];
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { list: false, kubeconfig: undefined, scenarios: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--list') args.list = true;
    else if (arg === '--kubeconfig') args.kubeconfig = argv[++i];
    else if (arg.startsWith('--kubeconfig=')) args.kubeconfig = arg.slice('--kubeconfig='.length);
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else args.scenarios.push(arg);
  }
  if (args.scenarios.includes('all')) args.scenarios = SCENARIOS.map((s) => s.name);
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list || args.scenarios.length === 0) {
    for (const scenario of SCENARIOS) process.stdout.write(`${scenario.name.padEnd(18)} ${scenario.title}\n`);
    if (!args.list) process.stderr.write('\nusage: matchcast-chaos [--kubeconfig <path>] <scenario>... | all\n');
    return args.list ? 0 : 2;
  }
  const scenarios = args.scenarios.map(findScenario);
  const config = loadConfig();
  const cluster = new KubernetesCluster(await connectKubeApi(args.kubeconfig), config.cluster);
  let failed = 0;
  try {
    for (const scenario of scenarios) {
      const report = await runScenario(cluster, scenario, {
        warmupMs: config.warmupMs,
        deliveryTimeoutMs: config.deliveryTimeoutMs,
        steadyTimeoutMs: config.steadyTimeoutMs,
        probe: config.probe,
        progress: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      process.stderr.write(`${humanReport(report)}\n`);
      process.stdout.write(`${summaryLine(report)}\n`);
      if (!report.ok) failed++;
    }
  } finally {
    await cluster.close();
  }
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const message = error instanceof ConfigError ? error.message : (error as Error).stack ?? String(error);
      process.stderr.write(`matchcast-chaos: ${message}\n`);
      process.exit(2);
    },
  );
}
