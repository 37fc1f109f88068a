import { notificationFor } from '../../src/events';

const snapshot = (over: Record<string, unknown> = {}) => ({
  match_id: 'm1',
  status: 'live',
  minute: 67,
  period: 'second_half',
  score: { home: 2, away: 1 },
  home_team: { id: 'ars', name: 'Arsenal' },
  away_team: { id: 'che', name: 'Chelsea' },
  league: { id: 'epl', name: 'Premier League' },
  kickoff_at: '2026-11-30T15:00:00.000Z',
  ...over,
});
const event = (type: string, extra: Record<string, unknown> = {}) => ({
  id: '7',
  type: 'match_event',
  data: { ...snapshot(), event: { id: 3, type, minute: 67, team: 'home', player: 'Saka', ...extra } },
});
const status = (to: string, from: string | null, over: Record<string, unknown> = {}) => ({
  id: '8',
  type: 'match_status',
  data: { ...snapshot({ status: to, ...over }), old_status: from },
});

describe('notificationFor', () => {
  it('a goal: high priority, the score line and minute in the title, the scorer and assist in the message', () => {
    const n = notificationFor(event('goal', { assist: 'Ødegaard' }));
    expect(n).toMatchObject({
      kind: 'goal',
      title: "Goal! Arsenal 2–1 Chelsea (67')",
      message: 'Saka scores for Arsenal, assisted by Ødegaard.',
      priority: 'high',
      matchId: 'm1',
      teamId: 'ars',
      leagueId: 'epl',
      homeTeamId: 'ars',
      awayTeamId: 'che',
    });
    expect(n?.data).toEqual({
      outbox_id: '7',
      match_id: 'm1',
      status: 'live',
      minute: 67,
      score: { home: 2, away: 1 },
      home_team: { id: 'ars', name: 'Arsenal' },
      away_team: { id: 'che', name: 'Chelsea' },
      league: { id: 'epl', name: 'Premier League' },
      kickoff_at: '2026-11-30T15:00:00.000Z',
      event: { type: 'goal', team: 'home', player: 'Saka', assist: 'Ødegaard' },
    });
  });

  it('penalty and own goals are goals, worded as such', () => {
    expect(notificationFor(event('penalty_goal'))).toMatchObject({ kind: 'goal', title: "Penalty goal! Arsenal 2–1 Chelsea (67')", message: 'Saka scores a penalty for Arsenal.' });
    expect(notificationFor(event('own_goal', { team: 'away', player: 'Colwill' }))).toMatchObject({
      kind: 'goal',
      title: "Own goal! Arsenal 2–1 Chelsea (67')",
      message: 'Own goal by Colwill, credited to Chelsea.',
      teamId: 'che',
    });
    expect(notificationFor(event('goal', { player: undefined }))?.message).toBe('Arsenal score.');
  });

  it('a red card: high priority, the side and the player', () => {
    expect(notificationFor(event('red_card', { team: 'away', player: 'James' }))).toMatchObject({
      kind: 'red_card',
      title: "Red card: Chelsea (67')",
      message: 'James (Chelsea) sent off. Arsenal 2–1 Chelsea.',
      priority: 'high',
      teamId: 'che',
    });
  });

  it.each(['yellow_card', 'substitution', 'var', 'penalty_miss'])('%s notifies nobody', (type) => {
    expect(notificationFor(event(type))).toBeUndefined();
  });

  it.each([
    ['live', 'scheduled', 'kick_off', 'normal', 'Kick-off: Arsenal v Chelsea'],
    ['half_time', 'live', 'half_time', 'normal', 'Half time: Arsenal 2–1 Chelsea'],
    ['finished', 'live', 'full_time', 'normal', 'Full time: Arsenal 2–1 Chelsea'],
    ['postponed', 'scheduled', 'postponed', 'normal', 'Postponed: Arsenal v Chelsea'],
    ['cancelled', 'postponed', 'cancelled', 'urgent', 'Cancelled: Arsenal v Chelsea'],
  ])('status %s (from %s) is %s, %s', (to, from, kind, priority, title) => {
    expect(notificationFor(status(to, from))).toMatchObject({ kind, priority, title, teamId: null });
  });

  it('full time says who won', () => {
    expect(notificationFor(status('finished', 'live'))?.message).toBe('Arsenal beat Chelsea 2–1 (Premier League).');
    expect(notificationFor(status('finished', 'live', { score: { home: 0, away: 3 } }))?.message).toBe('Chelsea win 3–0 at Arsenal (Premier League).');
    expect(notificationFor(status('finished', 'live', { score: { home: 1, away: 1 } }))?.message).toBe('Arsenal and Chelsea draw 1–1 (Premier League).');
  });

  it('postponement names the kick-off', () => {
    expect(notificationFor(status('postponed', 'scheduled'))?.message).toBe(
      'Arsenal v Chelsea (Premier League, kick-off 30 Nov 2026 15:00 UTC) has been postponed.',
    );
  });

  it('the second half, a new fixture and a no-change are not notified', () => {
    expect(notificationFor(status('live', 'half_time'))).toBeUndefined();
    expect(notificationFor(status('scheduled', null))).toBeUndefined();
    expect(notificationFor(status('cancelled', null))).toBeUndefined();
    expect(notificationFor(status('finished', 'finished'))).toBeUndefined();
    expect(notificationFor(status('scheduled', 'postponed'))).toBeUndefined();
  });

  it('skips malformed rows instead of throwing', () => {
    for (const data of [null, 'x', [], {}, { ...snapshot(), score: null }, { ...snapshot(), home_team: 'ars' }]) {
      expect(notificationFor({ id: '1', type: 'match_status', data })).toBeUndefined();
    }
    expect(notificationFor({ id: '1', type: 'match_event', data: { ...snapshot(), event: { type: 'goal', team: 'left', minute: 1 } } })).toBeUndefined();
    expect(notificationFor({ id: '1', type: 'match_update', data: snapshot() })).toBeUndefined();
  });

  it('clips long names so every field fits its column', () => {
    const long = 'x'.repeat(5000);
    const n = notificationFor({
      id: '1',
      type: 'match_event',
      data: {
        ...snapshot({ home_team: { id: 'a'.repeat(300), name: long }, away_team: { id: 'b', name: long }, league: { id: 'l', name: long } }),
        event: { type: 'goal', minute: 1, team: 'home', player: long, assist: long },
      },
    });
    expect(n).toBeDefined();
    expect([...(n?.title ?? '')].length).toBeLessThanOrEqual(200);
    expect([...(n?.message ?? '')].length).toBeLessThanOrEqual(2000);
    expect(Buffer.byteLength(JSON.stringify(n?.data))).toBeLessThanOrEqual(4096);
  });
});
