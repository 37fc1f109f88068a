/**
 * The crawler in the Helm chart and k8s/: two replicas (one leader per source, a standby), a
 * rolling update that never takes the last one away, a PodDisruptionBudget that selects exactly
 * the crawler pods, the provider token from a Secret only when one is named, and the HTTP source
 * accepted by the values schema.
 */
import { join } from 'node:path';
import { toolsUnavailableReason } from './support/k8s-tools';
import { container, find, helmTemplate, kustomizeBuild, type Manifest, REPO } from './support/manifests';
import { loadValues, mergeValues, validator } from './support/values';

const reason = toolsUnavailableReason();
const describeWithHelm = reason ? describe.skip : describe;
if (reason) console.warn(`crawler chart checks skipped: ${reason}`);

type DeploymentSpec = { replicas: number; strategy: unknown; selector: { matchLabels: Record<string, string> } };
type PdbSpec = { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } };

describeWithHelm('crawler high availability', () => {
  it.each([
    ['the chart', () => helmTemplate()],
    ['k8s/ base', () => kustomizeBuild(join(REPO, 'k8s', 'base'))],
  ])('%s: two replicas, rolling update with no unavailable pod, a PDB over exactly the crawler pods', (_where, render: () => Manifest[]) => {
    const manifests = render();
    const deployment = find(manifests, 'Deployment', 'matchcast-crawler').spec as DeploymentSpec;
    expect(deployment.replicas).toBe(2);
    expect(deployment.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    const pdb = find(manifests, 'PodDisruptionBudget', 'matchcast-crawler').spec as PdbSpec;
    expect(pdb.maxUnavailable).toBe(1);
    expect(pdb.selector.matchLabels).toEqual(deployment.selector.matchLabels);
    expect(pdb.selector.matchLabels['app.kubernetes.io/component']).toBe('crawler');
  });

  it('passes the provider token from crawler.http.existingSecret, and only then', () => {
    const token = (manifests: Manifest[]) => container(find(manifests, 'Deployment', 'matchcast-crawler'), 'crawler').env?.find((e) => e.name === 'CRAWLER_HTTP_TOKEN');
    expect(token(helmTemplate())).toBeUndefined();
    const set = token(helmTemplate(['--set', 'crawler.http.existingSecret=provider', '--set', 'crawler.http.tokenKey=fd-token', '--set', 'crawler.config.CRAWLER_SOURCE=http']));
    expect(set?.valueFrom?.secretKeyRef).toEqual({ name: 'provider', key: 'fd-token' });
  });

  it('can turn the PDB off', () => {
    expect(helmTemplate(['--set', 'crawler.pdb.create=false']).some((m) => m.kind === 'PodDisruptionBudget' && m.metadata.name === 'matchcast-crawler')).toBe(false);
  });
});

describe('crawler values schema', () => {
  const validate = validator();
  it('accepts the HTTP source and rejects a bad competition list or provider', () => {
    const values = (config: Record<string, string>) => mergeValues(loadValues(), { crawler: { config } });
    expect(validate(values({ CRAWLER_SOURCE: 'http', CRAWLER_HTTP_COMPETITIONS: 'PL,BL1', CRAWLER_HTTP_BASE_URL: 'https://feed.example' }))).toBe(true);
    expect(validate(values({ CRAWLER_HTTP_COMPETITIONS: 'PL;DROP' }))).toBe(false);
    expect(validate(values({ CRAWLER_HTTP_PROVIDER: 'espn' }))).toBe(false);
  });
});
