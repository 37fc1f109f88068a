/**
 * What makes one provider different from another, and nothing else: where its matches are,
 * which header carries the credential, how its JSON maps onto a snapshot, and how it reports
 * its rate limit. Polling, politeness, validation and writing are the same for all
 * (http-source.ts); a new provider is one file in adapters/ and one line in adapters/index.ts.
 */
import type { SnapshotOp } from '../../feed';
import type { ProviderQuota } from './request-gate';

/** A snapshot as an adapter maps it: not validated yet, and without the source's `confirmed` flag. */
export type SnapshotCandidate = Omit<SnapshotOp, 'op' | 'confirmed'>;

/**
 * One match of an answer: mapped, or the reason it could not be (the others still count).
 * `droppedEvents`: the problems of events the adapter could not map and left out (the rest of
 * the match still counts).
 */
export type MappedMatch =
  | { ok: true; providerId: string; snapshot: SnapshotCandidate; droppedEvents?: readonly string[] }
  | { ok: false; providerId?: string; problem: string };

export interface ProviderAdapter {
  readonly name: string;
  /** The header that carries CRAWLER_HTTP_TOKEN (CRAWLER_HTTP_AUTH_HEADER overrides it). */
  readonly authHeader: string;
  /** Paths (appended to CRAWLER_HTTP_BASE_URL) that list the matches of each competition. */
  listPaths(competitions: readonly string[]): string[];
  /** Path of one match with its events (goals, cards, substitutions), if the provider has one. */
  detailPath?(providerId: string): string;
  /** A list answer → its matches. Throws PROVIDER_INVALID when the answer as a whole is unusable. */
  mapList(body: unknown): MappedMatch[];
  /** A detail answer → the match. */
  mapDetail?(body: unknown): MappedMatch;
  /** The provider's quota as its headers state it. */
  quota(headers: Headers): ProviderQuota;
}
