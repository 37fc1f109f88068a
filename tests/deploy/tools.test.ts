import { runTool, toolsUnavailableReason } from './support/k8s-tools';

const reason = toolsUnavailableReason();
const itWithTools = reason ? it.skip : it;
if (reason) console.warn(`deploy checks with real helm/kubectl skipped: ${reason}`);

describe('rendering tools from the pnpm dependencies', () => {
  itWithTools('helm and kubectl (kustomize) run from the unpacked npm layer', () => {
    const helm = runTool('helm', ['version', '--short']);
    expect(helm.status).toBe(0);
    expect(helm.stdout).toMatch(/^v\d+\.\d+\.\d+/);
    const kubectl = runTool('kubectl', ['version', '--client', '--output=json']);
    expect(kubectl.status).toBe(0);
    expect(JSON.parse(kubectl.stdout).kustomizeVersion).toMatch(/^v\d+/);
  });
});
