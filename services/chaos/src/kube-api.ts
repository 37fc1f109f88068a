/**
 * The little of the Kubernetes API the runner uses, behind a narrow interface so the
 * cluster logic is testable without a cluster. `connectKubeApi` implements it with
 * @kubernetes/client-node (1.4.x: 2.x needs Node 22), an ES module loaded with import().
 */

export interface PodInfo {
  name: string;
  ip: string | undefined;
  /** The Ready condition is True. */
  ready: boolean;
  /** metadata.deletionTimestamp is set: the pod is going away. */
  terminating: boolean;
}

export interface WorkloadRef {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
}

export interface WorkloadStatus {
  desired: number;
  ready: number;
}

export interface KubeApi {
  listPods(namespace: string, labelSelector: string): Promise<PodInfo[]>;
  /** gracePeriodSeconds 0 is a crash (SIGKILL at once); undefined keeps the pod's own grace period. */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void>;
  scale(namespace: string, workload: WorkloadRef, replicas: number): Promise<void>;
  workloadStatus(namespace: string, workload: WorkloadRef): Promise<WorkloadStatus>;
  /** The container's log lines written in the last `sinceSeconds`. */
  podLog(namespace: string, pod: string, container: string, sinceSeconds: number): Promise<string>;
  /** GET a pod's HTTP path through the API server's pod proxy (works from outside the cluster). */
  podGet(namespace: string, pod: string, port: number, path: string): Promise<{ status: number; body: string }>;
}

/** Parses `deployment/name` or `statefulset/name` (what kubectl accepts). */
export function parseWorkload(value: string): WorkloadRef {
  const match = /^(deployment|deploy|statefulset|sts)\/([a-z0-9][a-z0-9.-]*)$/i.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not deployment/<name> or statefulset/<name>`);
  const kind = /^(deployment|deploy)$/i.test(match[1]!) ? 'Deployment' : 'StatefulSet';
  return { kind, name: match[2]! };
}

type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

/**
 * Connects with a kubeconfig file, or (no path) the usual default: $KUBECONFIG, ~/.kube/config,
 * or the in-cluster service account when the runner itself runs as a pod.
 */
export async function connectKubeApi(kubeconfigPath?: string): Promise<KubeApi> {
  const k8s: ClientNode = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromDefault();
  const core = config.makeApiClient(k8s.CoreV1Api);
  const apps = config.makeApiClient(k8s.AppsV1Api);
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  return {
    async listPods(namespace, labelSelector) {
      const list = await core.listNamespacedPod({ namespace, labelSelector });
      return list.items.map((pod) => ({
        name: pod.metadata?.name ?? '',
        ip: pod.status?.podIP,
        ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        terminating: pod.metadata?.deletionTimestamp !== undefined,
      }));
    },
    async deletePod(namespace, name, gracePeriodSeconds) {
      await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds });
    },
    async scale(namespace, workload, replicas) {
      const request = { namespace, name: workload.name, body: { spec: { replicas } } };
      if (workload.kind === 'Deployment') await apps.patchNamespacedDeploymentScale(request, mergePatch);
      else await apps.patchNamespacedStatefulSetScale(request, mergePatch);
    },
    async workloadStatus(namespace, workload) {
      const object =
        workload.kind === 'Deployment'
          ? await apps.readNamespacedDeployment({ namespace, name: workload.name })
          : await apps.readNamespacedStatefulSet({ namespace, name: workload.name });
      return { desired: object.spec?.replicas ?? 1, ready: object.status?.readyReplicas ?? 0 };
    },
    async podLog(namespace, pod, container, sinceSeconds) {
      return core.readNamespacedPodLog({ namespace, name: pod, container, sinceSeconds: Math.max(1, Math.ceil(sinceSeconds)) });
    },
    async podGet(namespace, pod, port, path) {
      try {
        const body = await core.connectGetNamespacedPodProxyWithPath({ namespace, name: `${pod}:${port}`, path: path.replace(/^\//, '') });
        return { status: 200, body: typeof body === 'string' ? body : JSON.stringify(body) };
      } catch (error) {
        // A 503 from /readyz still carries the JSON body we want.
        if (error instanceof k8s.ApiException) {
          const body: unknown = error.body;
          return { status: error.code, body: typeof body === 'string' ? body : JSON.stringify(body) };
        }
        throw error;
      }
    },
  };
}
