import { isCanaryStream, isOwnChannelStream, isPrivateStream } from './channels';
import { LIVE_STATUSES, type OutboxEvent } from './messages';

function refId(value: unknown): string | undefined {
  if (value && typeof value === 'object' && 'id' in value) {
    const id = (value as { id: unknown }).id;
    if (typeof id === 'string' && id.length > 0) return id;
  }
  return undefined;
}

/** Whether an event's snapshot marks its match's league private (`data.league.private`). */
export function isPrivateLeagueEvent(event: Pick<OutboxEvent, 'data'>): boolean {
  const league = event.data.league;
  return typeof league === 'object' && league !== null && (league as { private?: unknown }).private === true;
}

/** The id of the private league an event's snapshot names, else undefined. */
export function privateLeagueOf(event: Pick<OutboxEvent, 'data'>): string | undefined {
  return isPrivateLeagueEvent(event) ? refId(event.data.league) : undefined;
}

/**
 * The one routing function: which channels an event is delivered on, most specific first.
 * A match event goes to match:<id>, team:<id> for both teams, league:<id>, live:all while the
 * match is live, and all — except a private league's match (data.league.private), which goes to
 * its match, team and league channels only; a private stream's event (user:<id>, purchase:<id>) goes to that
 * channel only, and the own events of league:<id>, team:<id> and all (league_table,
 * announcements) to that channel only. A canary stream's event goes nowhere: it is the
 * gateways' own probe.
 */
export function routeEvent(event: Pick<OutboxEvent, 'stream' | 'match_id' | 'data'>): string[] {
  if (isCanaryStream(event.stream)) return [];
  if (isPrivateStream(event.stream) || isOwnChannelStream(event.stream)) return [event.stream];
  const data = event.data;
  const channels: string[] = [];
  if (event.match_id) channels.push(`match:${event.match_id}`);
  const home = refId(data.home_team);
  const away = refId(data.away_team);
  if (home) channels.push(`team:${home}`);
  if (away && away !== home) channels.push(`team:${away}`);
  const league = refId(data.league);
  if (league) channels.push(`league:${league}`);
  // A private league's match (the snapshot marks it: league.private) never reaches the public
  // channels; its match, team and league channels are guarded by the gateway's membership check.
  if (isPrivateLeagueEvent(event)) return channels;
  if (typeof data.status === 'string' && LIVE_STATUSES.has(data.status)) channels.push('live:all');
  channels.push('all');
  return channels;
}
