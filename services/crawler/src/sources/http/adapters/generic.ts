/**
 * The generic JSON mapping: for a provider (or a bridge in front of one) that serves matches
 * already in matchcast's own terms. `GET <CRAWLER_HTTP_BASE_URL>/competitions/<code>/matches`
 * answers `{"matches": [...]}`, each match a snapshot without `op` and `confirmed`, with `id`
 * for `match_id` and `updated_at` for `provider_updated_at` (the table in the crawler README).
 * Credential header: Authorization (`CRAWLER_HTTP_TOKEN` sent as is, e.g. "Bearer …"). Quota
 * headers: RateLimit-Remaining / RateLimit-Reset (seconds), as the IETF draft names them.
 */
import { quotaFromHeaders } from '../request-gate';
import type { MappedMatch, ProviderAdapter } from '../adapter';

function mapped(value: unknown): MappedMatch {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'a match must be an object' };
  const { id, updated_at, ...rest } = value as Record<string, unknown>;
  if (typeof id !== 'string') return { ok: false, problem: 'id must be a string' };
  // Everything else is checked field by field by the snapshot's own validation.
  const snapshot = { ...rest, match_id: id, ...(updated_at === undefined ? {} : { provider_updated_at: updated_at }) };
  return { ok: true, providerId: id, snapshot: snapshot as never };
}

export const generic: ProviderAdapter = {
  name: 'generic',
  authHeader: 'Authorization',
  listPaths: (competitions) => competitions.map((code) => `/competitions/${encodeURIComponent(code)}/matches`),
  mapList(body) {
    const matches = (body as { matches?: unknown } | null)?.matches;
    if (!Array.isArray(matches)) return [{ ok: false, problem: 'matches must be an array' }];
    return matches.map(mapped);
  },
  quota: (headers) => quotaFromHeaders(headers, 'ratelimit-remaining', 'ratelimit-reset'),
};
