import { isPrivateStream, isStreamName, parseChannel, parseClientMessage, routeEvent } from '@matchcast/protocol';

const snapshot = (status: string) => ({
  match_id: 'm1',
  status,
  home_team: { id: 'ars', name: 'Arsenal' },
  away_team: { id: 'che', name: 'Chelsea' },
  league: { id: 'epl', name: 'Premier League' },
});

describe('routeEvent', () => {
  it('routes a live match event to match, both teams, league, live:all and all, most specific first', () => {
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data: snapshot('live') })).toEqual([
      'match:m1',
      'team:ars',
      'team:che',
      'league:epl',
      'live:all',
      'all',
    ]);
  });

  it("never routes a private league's match event (league.private) to live:all or all", () => {
    const data = { ...snapshot('live'), league: { id: 'epl', name: 'Premier League', private: true } };
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data })).toEqual(['match:m1', 'team:ars', 'team:che', 'league:epl']);
    // Only a literal true counts: anything else is a public league.
    const odd = { ...snapshot('live'), league: { id: 'epl', name: 'Premier League', private: 'true' } };
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data: odd })).toContain('all');
  });

  it("routes league_access (a league's privacy or membership changed) to that league only", () => {
    expect(routeEvent({ stream: 'league:l1', match_id: null, data: { league_id: 'l1', change: 'privacy', private: true, user_id: null } })).toEqual(['league:l1']);
  });

  it('leaves out live:all when the match is not live', () => {
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data: snapshot('finished') })).not.toContain('live:all');
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data: snapshot('half_time') })).toContain('live:all');
  });

  it("routes a league's own event (league_table) to that league only", () => {
    expect(routeEvent({ stream: 'league:l1', match_id: null, data: { league: { id: 'l1', name: 'L' }, rows: [] } })).toEqual(['league:l1']);
  });

  it('routes a schedule_update like every match event: match, both teams, league, all', () => {
    const data = { status: 'postponed', home_team: { id: 'h' }, away_team: { id: 'a' }, league: { id: 'l1' }, change: 'postponed' };
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data })).toEqual(['match:m1', 'team:h', 'team:a', 'league:l1', 'all']);
  });

  it('routes announcements on team and all streams to that channel only', () => {
    expect(routeEvent({ stream: 'team:t1', match_id: null, data: { id: '1' } })).toEqual(['team:t1']);
    expect(routeEvent({ stream: 'all', match_id: null, data: { id: '1' } })).toEqual(['all']);
  });

  it('routes a match announcement like a match event (its teams and league, not live:all)', () => {
    const data = { id: '1', target: 'match', home_team: { id: 'h' }, away_team: { id: 'a' }, league: { id: 'l1' } };
    expect(routeEvent({ stream: 'match:m1', match_id: 'm1', data })).toEqual(['match:m1', 'team:h', 'team:a', 'league:l1', 'all']);
  });

  it('routes a user notification to that user only', () => {
    expect(routeEvent({ stream: 'user:42', match_id: null, data: {} })).toEqual(['user:42']);
  });
});

describe('purchase streams', () => {
  it('route a purchase message to its own channel only, whatever its data says', () => {
    const event = { stream: 'purchase:17', match_id: 'm1', data: { ...snapshot('live'), status: 'live' } };
    expect(routeEvent(event)).toEqual(['purchase:17']);
  });

  it('are streams and private ones; a purchase channel parses with its id, and is a resume key', () => {
    expect(parseChannel('purchase:17')).toEqual({ name: 'purchase:17', kind: 'purchase', id: '17' });
    expect(isStreamName('purchase:17')).toBe(true);
    expect(isPrivateStream('purchase:17') && isPrivateStream('user:u1') && !isPrivateStream('match:m1')).toBe(true);
    expect(() => parseChannel('purchase:')).toThrow(expect.objectContaining({ code: 'INVALID_CHANNEL' }));
    const message = parseClientMessage(JSON.stringify({ action: 'subscribe', channels: ['purchase:17'], resume: { 'purchase:17': 3 } }), { maxChannelsPerMessage: 10 });
    expect(message).toMatchObject({ action: 'subscribe', resume: new Map([['purchase:17', 3]]) });
  });
});
