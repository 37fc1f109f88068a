import { LocalCluster } from '../harness/scenarios/local-cluster';
import { runScenario } from '../../services/chaos/src/runner';
import { findScenario } from '../../services/chaos/src/scenarios';
import { summaryLine } from '../../services/chaos/src/report';

describe('repeat', () => {
  const cluster = new LocalCluster({ name: 'rep' });
  beforeAll(() => cluster.start(), 60_000);
  afterAll(() => cluster.destroy(), 30_000);
  it('gateway-restart x8', async () => {
    for (let i = 0; i < 8; i++) {
      const report = await runScenario(cluster, findScenario('gateway-restart'));
      console.log(summaryLine(report));
      for (const c of report.clients) if (c.lost) console.log(JSON.stringify({ch: c.channels, lost: c.lost, errors: c.errors}));
    }
  }, 300_000);
});
