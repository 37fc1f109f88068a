/**
 * routeEvent as a table, written from the specification (docs/protocol.md, "Channels"), not
 * from the code: a match event goes to
 *   match:<match_id>, team:<home>, team:<away>, league:<league>, live:all (only while
 *   data.status is live or half_time), all
 * in that order, most specific first; a channel whose id is missing, empty or not a string is
 * left out; the same team twice is one team channel; a user stream's event goes to that
 * user:<id> channel only, whatever its data says.
 */
import { routeEvent } from '@matchcast/protocol';

type Data = Record<string, unknown>;
const ars = { id: 'ars', name: 'Arsenal' };
const che = { id: 'che', name: 'Chelsea' };
const epl = { id: 'epl', name: 'Premier League' };
const full = (status: unknown): Data => ({ match_id: 'm1', status, home_team: ars, away_team: che, league: epl });
const match = (data: Data, match_id: string | null = 'm1') => ({ stream: 'match:m1', match_id, data });

describe('routeEvent: match events', () => {
  it.each<[string, ReturnType<typeof match>, string[]]>([
    // status
    ['live: every channel', match(full('live')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'live:all', 'all']],
    ['half_time counts as live', match(full('half_time')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'live:all', 'all']],
    ['scheduled: no live:all', match(full('scheduled')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],
    ['finished: no live:all', match(full('finished')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],
    ['postponed: no live:all', match(full('postponed')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],
    ['cancelled: no live:all', match(full('cancelled')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],
    ['no status: no live:all', match({ home_team: ars, away_team: che, league: epl }), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],
    ['status in capitals is not live', match(full('LIVE')), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],
    ['status that is not a string', match(full(true)), ['match:m1', 'team:ars', 'team:che', 'league:epl', 'all']],

    // each channel kind on its own
    ['no data: match and all only', match({}), ['match:m1', 'all']],
    ['home team only', match({ home_team: ars }), ['match:m1', 'team:ars', 'all']],
    ['away team only', match({ away_team: che }), ['match:m1', 'team:che', 'all']],
    ['league only', match({ league: epl }), ['match:m1', 'league:epl', 'all']],
    ['live status only', match({ status: 'live' }), ['match:m1', 'live:all', 'all']],
    ['half_time status only', match({ status: 'half_time' }), ['match:m1', 'live:all', 'all']],

    // missing refs
    ['no home team', match({ status: 'live', away_team: che, league: epl }), ['match:m1', 'team:che', 'league:epl', 'live:all', 'all']],
    ['no away team', match({ status: 'live', home_team: ars, league: epl }), ['match:m1', 'team:ars', 'league:epl', 'live:all', 'all']],
    ['no teams', match({ status: 'finished', league: epl }), ['match:m1', 'league:epl', 'all']],
    ['no league', match({ status: 'live', home_team: ars, away_team: che }), ['match:m1', 'team:ars', 'team:che', 'live:all', 'all']],
    ['refs that are null', match({ status: 'live', home_team: null, away_team: null, league: null }), ['match:m1', 'live:all', 'all']],

    // the same team twice
    ['home = away: one team channel', match({ status: 'live', home_team: ars, away_team: { ...ars }, league: epl }), ['match:m1', 'team:ars', 'league:epl', 'live:all', 'all']],
    ['home = away, not live', match({ status: 'finished', home_team: che, away_team: che }), ['match:m1', 'team:che', 'all']],

    // match_id
    ['match_id null: no match channel', match(full('live'), null), ['team:ars', 'team:che', 'league:epl', 'live:all', 'all']],
    ['match_id empty: no match channel', match(full('finished'), ''), ['team:ars', 'team:che', 'league:epl', 'all']],
    ['match_id null and no data: all only', match({}, null), ['all']],

    // ids that are not strings, or empty
    ['numeric team ids are ignored', match({ status: 'live', home_team: { id: 7 }, away_team: { id: 8 }, league: epl }), ['match:m1', 'league:epl', 'live:all', 'all']],
    ['empty team ids are ignored', match({ status: 'live', home_team: { id: '' }, away_team: che, league: epl }), ['match:m1', 'team:che', 'league:epl', 'live:all', 'all']],
    ['empty league id is ignored', match({ status: 'live', home_team: ars, away_team: che, league: { id: '' } }), ['match:m1', 'team:ars', 'team:che', 'live:all', 'all']],
    ['league id null is ignored', match({ status: 'scheduled', home_team: ars, league: { id: null } }), ['match:m1', 'team:ars', 'all']],
    ['object ids are ignored', match({ home_team: { id: { id: 'ars' } }, away_team: { id: ['che'] }, league: { id: true } }), ['match:m1', 'all']],
    ['refs without an id are ignored', match({ home_team: { name: 'Arsenal' }, away_team: {}, league: { name: 'Premier League' } }), ['match:m1', 'all']],
    ['refs given as bare strings are ignored', match({ home_team: 'ars', away_team: 'che', league: 'epl' }), ['match:m1', 'all']],
    ['one bad team id does not hide the other', match({ home_team: { id: 42 }, away_team: che }), ['match:m1', 'team:che', 'all']],
  ])('%s', (_case, event, channels) => {
    expect(routeEvent(event)).toEqual(channels);
  });
});

describe('routeEvent: user streams', () => {
  it.each<[string, { stream: string; match_id: string | null; data: Data }, string[]]>([
    ['a plain notification', { stream: 'user:42', match_id: null, data: {} }, ['user:42']],
    ['a notification with a message', { stream: 'user:u-7', match_id: null, data: { message: 'kick-off in 5 minutes' } }, ['user:u-7']],
    ['data that looks like a live match', { stream: 'user:42', match_id: null, data: full('live') }, ['user:42']],
    ['a match_id set', { stream: 'user:42', match_id: 'm1', data: full('half_time') }, ['user:42']],
  ])('%s → the user channel only', (_case, event, channels) => {
    expect(routeEvent(event)).toEqual(channels);
  });
});
