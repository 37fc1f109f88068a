import { ID_PATTERN } from '@matchcast/protocol';
import { ADAPTERS, type MappedMatch } from '../../src';
import { fdMatch, fdMatchList } from '../../src/feed-server/football-data-json';

const adapter = ADAPTERS['football-data'];
const COMPETITION = { id: 2021, code: 'PL', name: 'Premier League' };
const base = { id: 5, competition: COMPETITION, utcDate: '2026-05-01T15:00:00Z', home: { id: 10, name: 'Home FC', tla: 'HOM' }, away: { id: 20, name: 'Away FC' } } as const;

describe('football-data adapter', () => {
  it.each([
    ['SCHEDULED', 'scheduled'],
    ['TIMED', 'scheduled'],
    ['IN_PLAY', 'live'],
    ['PAUSED', 'half_time'],
    ['FINISHED', 'finished'],
    ['POSTPONED', 'postponed'],
    ['SUSPENDED', 'postponed'],
    ['CANCELLED', 'cancelled'],
  ] as const)('maps status %s to %s', (provider, ours) => {
    const [mapped] = adapter.mapList(fdMatchList(COMPETITION, [fdMatch({ ...base, status: provider })]));
    expect(mapped).toMatchObject({ ok: true, snapshot: { status: ours } });
  });

  it('maps ids, names, a null score (0-0), goals of every kind, cards and substitutions, with stable event ids', () => {
    const raw = fdMatch({
      ...base,
      status: 'IN_PLAY',
      score: { home: 2, away: 1 },
      minute: 70,
      goals: [
        { minute: 10, team: 'home', scorer: { id: 1, name: 'Nine' }, assist: { id: 2, name: 'Ten' } },
        { minute: 30, team: 'away', scorer: { id: 3, name: 'Four' }, type: 'PENALTY' },
        { minute: 50, team: 'home', scorer: { id: 4, name: 'Own' }, type: 'OWN' },
      ],
      bookings: [{ minute: 60, team: 'away', player: { id: 3, name: 'Four' }, card: 'YELLOW' }],
    });
    (raw as Record<string, unknown>).substitutions = [{ minute: 65, team: { id: 10 }, playerOut: { id: 1, name: 'Nine' }, playerIn: { id: 7, name: 'Seven' } }];
    const mapped = adapter.mapDetail!(raw);
    expect(mapped).toMatchObject({
      ok: true,
      providerId: '5',
      snapshot: {
        match_id: 'fd-5',
        kickoff_at: '2026-05-01T15:00:00Z',
        league: { id: 'fd-PL', name: 'Premier League', country: 'England' },
        home: { id: 'fd-t10', name: 'Home FC', short_name: 'HOM' },
        away: { id: 'fd-t20', name: 'Away FC' },
        status: 'live',
        score: { home: 2, away: 1 },
        minute: 70,
        events: [
          { event_id: 'fd-goal-10-0-10-1-0', kind: 'goal', minute: 10, team: 'home', player: 'Nine', assist: 'Ten' },
          { event_id: 'fd-penalty_goal-30-0-20-3-0', kind: 'penalty_goal', minute: 30, team: 'away', player: 'Four' },
          { event_id: 'fd-own_goal-50-0-10-4-0', kind: 'own_goal', minute: 50, team: 'home', player: 'Own' },
          { event_id: 'fd-yellow_card-60-0-20-3-0', kind: 'yellow_card', minute: 60, team: 'away', player: 'Four' },
          { event_id: 'fd-substitution-65-0-10-1.7-0', kind: 'substitution', minute: 65, team: 'home', player: 'Nine', player_in: 'Seven' },
        ],
      },
    });
    const [before] = adapter.mapList(fdMatchList(COMPETITION, [fdMatch({ ...base, status: 'TIMED' })]));
    expect(before).toMatchObject({ ok: true, snapshot: { score: { home: 0, away: 0 } } });
    expect((before as { snapshot: object }).snapshot).not.toHaveProperty('events');
  });

  it.each([
    ['no home team', { homeTeam: undefined }, 'homeTeam must be an object'],
    ['a negative score', { score: { fullTime: { home: -1, away: 0 } } }, 'score.fullTime.home must be an integer from 0 to 99'],
    ['an unknown status', { status: 'WARMING_UP' }, 'status "WARMING_UP" is not a known status'],
    ['a bad date', { utcDate: 'tomorrow' }, 'utcDate must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2026-05-01T15:00:00Z'],
    ['February 30th', { utcDate: '2026-02-30T15:00:00Z' }, 'utcDate must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2026-05-01T15:00:00Z'],
    ['year 0', { utcDate: '0000-05-01T15:00:00Z' }, 'utcDate must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2026-05-01T15:00:00Z'],
    ['an offset beyond 15:59', { utcDate: '2026-05-01T15:00:00+20:00' }, 'utcDate must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2026-05-01T15:00:00Z'],
    ['a minute of 500', { minute: 500 }, 'minute must be an integer from 0 to 200'],
  ])('rejects a match with %s, naming the field', (_what, change, problem) => {
    const [mapped] = adapter.mapList({ matches: [{ ...fdMatch({ ...base, status: 'IN_PLAY', score: { home: 0, away: 0 } }), ...change }] });
    expect(mapped).toEqual({ ok: false, providerId: '5', problem });
  });

  it('hashes an event id that long provider ids make longer than 64 characters: distinct, valid and stable', () => {
    const [big, out, in1, in2] = [1234567890123, 9007199254740991, 9007199254740981, 9007199254740982];
    const raw = fdMatch({ ...base, home: { id: big, name: 'Home FC' }, status: 'IN_PLAY', score: { home: 1, away: 0 }, goals: [{ minute: 5, team: 'home', scorer: { id: out, name: 'Nine' } }] });
    raw.substitutions = [
      { minute: 65, team: { id: big }, playerOut: { id: out, name: 'Nine' }, playerIn: { id: in1, name: 'Seven' } },
      { minute: 65, team: { id: big }, playerOut: { id: out, name: 'Nine' }, playerIn: { id: in2, name: 'Eight' } },
    ];
    const ids = (mapped: MappedMatch) => (mapped.ok ? (mapped.snapshot.events ?? []).map((e) => e.event_id) : []);
    const first = ids(adapter.mapDetail!(raw));
    expect(first).toHaveLength(3);
    expect(new Set(first).size).toBe(3);
    for (const id of first) expect(id).toMatch(ID_PATTERN);
    // The goal's id fits as it is; the substitutions' would not.
    expect(first[0]).toBe(`fd-goal-5-0-${big}-${out}-0`);
    expect(first.slice(1).every((id) => /^fd-[A-Za-z0-9_-]{43}$/.test(id))).toBe(true);
    expect(ids(adapter.mapDetail!(JSON.parse(JSON.stringify(raw))))).toEqual(first);
  });

  it('leaves out an event it cannot map, reporting it, and keeps the match and its other events', () => {
    const raw = fdMatch({ ...base, status: 'IN_PLAY', score: { home: 2, away: 0 }, goals: [{ minute: 10, team: 'home', scorer: { id: 1, name: 'Nine' } }] });
    (raw.goals as unknown[]).push({ minute: 3, team: { id: 99 }, scorer: { id: 1, name: 'X' } });
    raw.bookings = [{ minute: 20, team: { id: 20 }, player: { id: 3, name: 'Four' }, card: 'GREEN' }];
    const mapped = adapter.mapDetail!(raw);
    expect(mapped).toMatchObject({ ok: true, snapshot: { score: { home: 2, away: 0 }, events: [{ event_id: 'fd-goal-10-0-10-1-0', player: 'Nine' }] } });
    expect(mapped.ok && mapped.droppedEvents).toEqual(['goals[1].team.id 99 plays in neither team', 'bookings[0].card "GREEN" is not a known card']);
  });

  it('a card or goal type nested too deep to print, huge, or named after an Object member is a dropped event with a short problem, never a throw', () => {
    const deep = JSON.parse('['.repeat(10_000) + ']'.repeat(10_000)); // 20 KB of JSON: String() and JSON.stringify() overflow the stack
    const raw = fdMatch({ ...base, status: 'IN_PLAY', score: { home: 1, away: 0 }, goals: [{ minute: 10, team: 'home', scorer: { id: 1, name: 'Nine' } }] });
    (raw.goals as unknown[]).push({ minute: 11, team: { id: 10 }, scorer: { id: 1, name: 'Nine' }, type: 'x'.repeat(1_000_000) });
    raw.bookings = [
      { minute: 20, team: { id: 20 }, player: { id: 3, name: 'Four' }, card: deep },
      { minute: 21, team: { id: 20 }, player: { id: 3, name: 'Four' }, card: 'constructor' },
      { minute: 22, team: { id: 20 }, player: { id: 3, name: 'Four' }, card: { YELLOW: true } },
      { minute: 23, team: { id: 20 }, player: { id: 3, name: 'Four' }, card: '__proto__' },
    ];
    const mapped = adapter.mapDetail!(raw);
    expect(mapped).toMatchObject({ ok: true, snapshot: { score: { home: 1, away: 0 }, events: [{ event_id: 'fd-goal-10-0-10-1-0' }] } });
    expect(mapped.ok && mapped.droppedEvents).toEqual([
      `goals[1].type "${'x'.repeat(40)}…" is not a known goal type`,
      'bookings[0].card an array is not a known card',
      'bookings[1].card "constructor" is not a known card',
      'bookings[2].card an object is not a known card',
      'bookings[3].card "__proto__" is not a known card',
    ]);
    // The same deep value as a match's status: that match refused, the list still mapped.
    const [bad, good] = adapter.mapList(fdMatchList(COMPETITION, [{ ...fdMatch({ ...base, id: 6, status: 'IN_PLAY' }), status: deep }, fdMatch({ ...base, status: 'IN_PLAY' })]));
    expect(bad).toEqual({ ok: false, providerId: '6', problem: 'status must be a non-empty string' });
    expect(good).toMatchObject({ ok: true });
  });

  it('keeps an unusable lastUpdated out of the snapshot rather than refusing the match', () => {
    const [mapped] = adapter.mapList({ matches: [{ ...fdMatch({ ...base, status: 'IN_PLAY', score: { home: 0, away: 0 } }), lastUpdated: '2026-02-30T10:00:00Z' }] });
    expect(mapped).toMatchObject({ ok: true });
    expect((mapped as { snapshot: object }).snapshot).not.toHaveProperty('provider_updated_at');
  });

  it('rejects an answer without a matches array as a whole', () => {
    expect(adapter.mapList({ error: 'nope' })).toEqual([{ ok: false, problem: 'matches must be an array' }]);
    expect(adapter.mapList(null)).toEqual([{ ok: false, problem: 'matches must be an array' }]);
  });

  it('reads the quota headers (seconds to the reset)', () => {
    expect(adapter.quota(new Headers({ 'x-requests-available-minute': '0', 'x-requestcounter-reset': '42' }))).toEqual({ remaining: 0, resetMs: 42_000 });
    expect(adapter.quota(new Headers())).toEqual({});
  });
});
