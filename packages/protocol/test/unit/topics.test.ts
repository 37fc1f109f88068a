import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ProtocolError,
  TOPICS,
  TOPICS_BY_TYPE,
  baseChannel,
  deliveryChannels,
  isStreamName,
  parseChannel,
  parseClientMessage,
  topicsOf,
  type OutboxEvent,
} from '@matchcast/protocol';

const match = (type: OutboxEvent['type'], status: string) => ({
  stream: 'match:m1',
  type,
  match_id: 'm1',
  data: { match_id: 'm1', status, home_team: { id: 'h' }, away_team: { id: 'a' }, league: { id: 'l1' } },
});

const codeOf = (name: unknown): string | undefined => {
  try {
    parseChannel(name);
    return undefined;
  } catch (error) {
    return (error as ProtocolError).code;
  }
};

describe('topic channel names', () => {
  it('parses <channel>/<topic> for match, league, team and all, with the base kind and id', () => {
    expect(parseChannel('league:l1/results')).toEqual({ name: 'league:l1/results', kind: 'league', id: 'l1', topic: 'results' });
    expect(parseChannel('team:t-1/schedule')).toEqual({ name: 'team:t-1/schedule', kind: 'team', id: 't-1', topic: 'schedule' });
    expect(parseChannel('match:m1/live')).toEqual({ name: 'match:m1/live', kind: 'match', id: 'm1', topic: 'live' });
    expect(parseChannel('all/announcements')).toEqual({ name: 'all/announcements', kind: 'all', topic: 'announcements' });
    for (const topic of TOPICS) expect(parseChannel(`league:l1/${topic}`).topic).toBe(topic);
    expect(parseChannel('league:l1').topic).toBeUndefined();
  });

  it('accepts the longest id with the longest topic', () => {
    const name = `league:${'x'.repeat(64)}/announcements`;
    expect(parseChannel(name).name).toBe(name);
  });

  it('refuses malformed topics with INVALID_CHANNEL', () => {
    for (const name of ['league:l1/', 'league:l1/results/live', 'league:l1/Results', 'league:l1/res ults', '/results', 'league:/results', `league:l1/${'a'.repeat(40)}`, `league:${'x'.repeat(65)}/live`]) {
      expect([name, codeOf(name)]).toEqual([name, 'INVALID_CHANNEL']);
    }
  });

  it('refuses unknown topics, and topics of channels that have none, with UNKNOWN_CHANNEL', () => {
    for (const name of ['league:l1/standings', 'match:m1/chat', 'user:u1/results', 'purchase:p1/live', 'live:all/live', 'nope:x/live']) {
      expect([name, codeOf(name)]).toEqual([name, 'UNKNOWN_CHANNEL']);
    }
  });

  it('is never a stream: resume keys stay stream names', () => {
    expect(isStreamName('match:m1/live')).toBe(false);
    expect(isStreamName('match:m1')).toBe(true);
    expect(() => parseClientMessage(JSON.stringify({ action: 'subscribe', channels: ['match:m1/live'], resume: { 'match:m1/live': 3 } }), { maxChannelsPerMessage: 10 })).toThrow(
      expect.objectContaining({ code: 'BAD_RESUME' }),
    );
    const parsed = parseClientMessage(JSON.stringify({ action: 'subscribe', channels: ['match:m1/live'], resume: { 'match:m1': 3 } }), { maxChannelsPerMessage: 10 });
    expect(parsed).toMatchObject({ action: 'subscribe', channels: ['match:m1/live'] });
  });

  it('baseChannel strips the topic', () => {
    expect(baseChannel('league:l1/results')).toBe('league:l1');
    expect(baseChannel('all/live')).toBe('all');
    expect(baseChannel('match:m1')).toBe('match:m1');
  });
});

describe('message type → topic', () => {
  it('live: every match message; results: league_table and a finished match; schedule: schedule_update', () => {
    expect(topicsOf(match('match_update', 'live'))).toEqual(['live']);
    expect(topicsOf(match('match_event', 'live'))).toEqual(['live']);
    expect(topicsOf(match('match_status', 'half_time'))).toEqual(['live']);
    expect(topicsOf(match('match_status', 'finished'))).toEqual(['live', 'results']);
    expect(topicsOf(match('match_update', 'finished'))).toEqual(['live', 'results']);
    expect(topicsOf(match('match_event', 'finished'))).toEqual(['live']);
    expect(topicsOf(match('schedule_update', 'postponed'))).toEqual(['schedule']);
    expect(topicsOf({ type: 'league_table', data: {} })).toEqual(['results']);
    expect(topicsOf({ type: 'notification', data: {} })).toEqual([]);
    expect(topicsOf({ type: 'purchase', data: {} })).toEqual([]);
  });

  it('gives a type this build does not know no topic (it still reaches base channels)', () => {
    const event = { ...match('match_update', 'live'), type: 'something_new' as OutboxEvent['type'] };
    expect(topicsOf(event)).toEqual([]);
    expect(deliveryChannels(event)).toEqual(['match:m1', 'team:h', 'team:a', 'league:l1', 'live:all', 'all']);
  });

  it.each(['constructor', 'to_string', 'has_own_property', 'value_of', '__proto__', 'toString'])('gives a type named like an Object member (%s) no topic, not the prototype', (type) => {
    const event = { ...match('match_update', 'live'), type: type as OutboxEvent['type'] };
    expect(topicsOf(event)).toEqual([]);
    expect(deliveryChannels(event)).toEqual(['match:m1', 'team:h', 'team:a', 'league:l1', 'live:all', 'all']);
  });

  it('is total: every message type the migrations write to the outbox has its topics', () => {
    const dir = join(__dirname, '../../../db/migrations');
    const sql = readdirSync(dir)
      .filter((file) => file.endsWith('.sql'))
      .map((file) => readFileSync(join(dir, file), 'utf8'))
      .join('\n');
    const emitted = new Set<string>();
    const patterns = [
      /matchcast_append\([^,;]+,\s*'[^']*',\s*'([a-z_]+)'/g, // matchcast_append(stream, source, 'type', ...)
      /v_type(?:\s+text)?\s*:=\s*'([a-z_]+)'/g, // the match trigger's type variable
      /last_seq,\s*'[a-z_]+',\s*'([a-z_]+)'/g, // 004's batched INSERT INTO outbox (stream, seq, source, type, ...)
    ];
    for (const pattern of patterns) for (const found of sql.matchAll(pattern)) emitted.add(found[1]!);
    // The scan sees what it should (else this test would pass vacuously).
    for (const type of ['match_update', 'match_status', 'match_event', 'schedule_update', 'league_table', 'notification', 'notification_read', 'purchase']) {
      expect(emitted).toContain(type);
    }
    const unmapped = [...emitted].filter((type) => !Object.hasOwn(TOPICS_BY_TYPE, type));
    expect(unmapped).toEqual([]);
    for (const rule of Object.values(TOPICS_BY_TYPE)) {
      for (const topic of rule({ data: { status: 'finished' } })) expect(TOPICS).toContain(topic);
    }
  });
});

describe('deliveryChannels', () => {
  it('puts each topic channel of the event before its base channel, on match, team, league and all but not live:all', () => {
    expect(deliveryChannels(match('match_event', 'live'))).toEqual([
      'match:m1/live', 'match:m1',
      'team:h/live', 'team:h',
      'team:a/live', 'team:a',
      'league:l1/live', 'league:l1',
      'live:all',
      'all/live', 'all',
    ]);
  });

  it('names both topics of a final whistle', () => {
    expect(deliveryChannels(match('match_status', 'finished')).slice(0, 3)).toEqual(['match:m1/live', 'match:m1/results', 'match:m1']);
  });

  it('sends schedule_update to the schedule topics, league_table to the league results topic, private events to their channel only', () => {
    expect(deliveryChannels(match('schedule_update', 'postponed'))).toEqual([
      'match:m1/schedule', 'match:m1', 'team:h/schedule', 'team:h', 'team:a/schedule', 'team:a', 'league:l1/schedule', 'league:l1', 'all/schedule', 'all',
    ]);
    expect(deliveryChannels({ stream: 'league:l1', type: 'league_table', match_id: null, data: { rows: [] } })).toEqual(['league:l1/results', 'league:l1']);
    expect(deliveryChannels({ stream: 'user:u1', type: 'notification', match_id: null, data: {} })).toEqual(['user:u1']);
    expect(deliveryChannels({ stream: 'purchase:p1', type: 'purchase', match_id: null, data: {} })).toEqual(['purchase:p1']);
  });

  it('names topic channels only of the channels `withTopics` picks (fan-out: those with topic subscribers)', () => {
    expect(deliveryChannels(match('match_event', 'live'), (channel) => channel === 'league:l1')).toEqual([
      'match:m1', 'team:h', 'team:a', 'league:l1/live', 'league:l1', 'live:all', 'all',
    ]);
  });

  it('names only channels parseChannel accepts', () => {
    for (const name of deliveryChannels(match('match_status', 'finished'))) expect(parseChannel(name).name).toBe(name);
  });
});
