import { isStorableText, parseIsoTime } from '@matchcast/protocol';

describe('isStorableText', () => {
  it('refuses NUL and unpaired surrogates, accepts paired ones', () => {
    for (const bad of ['a\u0000b', '\ud800', 'x\udc00', '\udc00\ud800']) expect(isStorableText(bad)).toBe(false);
    for (const good of ['', 'Ødegaard', '😀', 'a\u0001b']) expect(isStorableText(good)).toBe(true);
  });
});

describe('parseIsoTime', () => {
  it.each([
    ['2026-11-23T15:00Z', '2026-11-23T15:00:00.000Z'],
    ['2026-11-23T15:00:00+01:00', '2026-11-23T14:00:00.000Z'],
    ['2026-11-23T15:00:00.123456-05:30', '2026-11-23T20:30:00.123Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['0004-02-29T00:00:00Z', '0004-02-29T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    ['9999-12-31T23:00:00+15:59', '9999-12-31T07:01:00.000Z'],
    ['2026-01-01T00:00:00-15:59', '2026-01-01T15:59:00.000Z'],
  ])('reads %s', (value, iso) => {
    expect(new Date(parseIsoTime(value)!).toISOString()).toBe(iso);
  });

  it.each([
    ['no zone', '2026-11-23T15:00:00'],
    ['lower-case t and z', '2026-11-23t15:00:00z'],
    ['a zone without a colon', '2026-11-23T15:00:00+0100'],
    ['7 fraction digits', '2026-11-23T15:00:00.1234567Z'],
    ['February 30th', '2026-02-30T15:00:00Z'],
    ['February 31st', '2026-02-31T00:00:00Z'],
    ['February 29th of a common year', '2100-02-29T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['day 0', '2026-01-00T00:00:00Z'],
    ['hour 24', '2026-01-01T24:00:00Z'],
    ['second 60', '2026-01-01T00:00:60Z'],
    ['an offset beyond 15:59', '2026-01-01T00:00:00+16:00'],
    ['an offset of 23:59', '2026-01-01T00:00:00-23:59'],
    ['offset minutes 60', '2026-01-01T00:00:00+01:60'],
    ['year 0', '0000-06-01T00:00:00Z'],
    ['year 1 pushed into year 0 by its offset', '0001-01-01T00:00:00+01:00'],
    ['year 9999 pushed into year 10000 by its offset', '9999-12-31T23:00:00-05:00'],
    ['an expanded year', '+010000-01-01T00:00:00Z'],
    ['a number', '1700000000'],
    ['an empty string', ''],
  ])('refuses %s', (_what, value) => {
    expect(parseIsoTime(value)).toBeUndefined();
    expect(parseIsoTime(value, { allowDate: true })).toBeUndefined();
  });

  it('reads a bare date as UTC midnight with allowDate only, and checks it the same way', () => {
    expect(parseIsoTime('2026-11-23')).toBeUndefined();
    expect(parseIsoTime('2026-11-23', { allowDate: true })).toBe(Date.parse('2026-11-23T00:00:00Z'));
    expect(parseIsoTime('0001-01-01', { allowDate: true })).toBe(Date.parse('0001-01-01T00:00:00Z'));
    for (const bad of ['2026-02-30', '0000-01-01', '2026-1-1']) expect(parseIsoTime(bad, { allowDate: true })).toBeUndefined();
  });
});
