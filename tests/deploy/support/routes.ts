/**
 * Where each request path must go, for the chart's Ingress and the compose edge alike: the
 * REST API under /api to the API, except the gateway's /api routes (the match list and the
 * notifications SSE stream), and everything else to the gateway.
 */
export type Backend = 'gateway' | 'api';

export const ROUTES: [path: string, backend: Backend][] = [
  ['/', 'gateway'],
  ['/index.html', 'gateway'],
  ['/matchcast-client.js', 'gateway'],
  ['/ws', 'gateway'],
  ['/sse?channels=all', 'gateway'],
  ['/healthz', 'gateway'],
  ['/metrics', 'gateway'],
  ['/api/matches', 'gateway'],
  ['/api/matches?status=live', 'gateway'],
  ['/api/matches/m-1', 'gateway'],
  ['/api/notifications/stream', 'gateway'],
  ['/api/notifications/stream?token=x', 'gateway'],
  ['/api', 'api'],
  ['/api/', 'api'],
  ['/api/notifications', 'api'],
  ['/api/notifications?unread_only=true&limit=5', 'api'],
  ['/api/notifications/unread-count', 'api'],
  ['/api/notifications/42/read', 'api'],
  ['/api/notifications/mark-all-read', 'api'],
  ['/api/notifications/streams', 'api'],
  ['/api/me/follows', 'api'],
  ['/api/me/follows/team/t-1', 'api'],
  ['/api/dev/sign-in', 'api'],
  ['/api/matchesx', 'api'],
  ['/apiary', 'gateway'],
];

/** The paths (no query) that stream Server-Sent Events through the proxy. */
export const SSE_PATHS = ['/sse', '/api/notifications/stream'];

export interface IngressPath {
  path: string;
  pathType: 'Prefix' | 'Exact' | 'ImplementationSpecific';
  backend: { service: { name: string } };
}

const segments = (path: string) => path.split('/').filter(Boolean);

/**
 * Kubernetes Ingress matching (networking.k8s.io/v1): Exact is the whole path; Prefix matches
 * whole path elements ("/api" matches "/api" and "/api/x", not "/apix"); the longest matching
 * path wins, Exact before Prefix on a tie. Returns the backend Service name, or undefined.
 */
export function ingressBackend(paths: IngressPath[], request: string): string | undefined {
  const path = request.split('?')[0]!;
  const matches = paths.filter((p) => {
    if (p.pathType === 'Exact') return p.path === path;
    if (p.pathType !== 'Prefix') throw new Error(`pathType ${p.pathType} has no portable meaning`);
    const [want, got] = [segments(p.path), segments(path)];
    return want.length <= got.length && want.every((s, i) => s === got[i]);
  });
  matches.sort((a, b) => b.path.length - a.path.length || (a.pathType === 'Exact' ? -1 : 1));
  return matches[0]?.backend.service.name;
}
