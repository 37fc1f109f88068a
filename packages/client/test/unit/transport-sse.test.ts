/** The SSE transport's pure parts: URL derivation, the request URL, the fallback decision. */
import { MAX_SSE_URL_LENGTH, closeCodeForStreamEnd, nextTransport, sseRequestUrl, sseUrlFor } from '../../src/transport-sse';

it('derives the SSE endpoint from the WebSocket URL', () => {
  expect(sseUrlFor('ws://gw:8080/ws')).toBe('http://gw:8080/sse');
  expect(sseUrlFor('wss://example.com/ws?token=x#h')).toBe('https://example.com/sse');
  expect(sseUrlFor('wss://example.com/live/ws')).toBe('https://example.com/live/sse');
  expect(sseUrlFor('ws://gw/')).toBe('http://gw/sse');
  expect(sseUrlFor('ws://gw/socket')).toBe('http://gw/socket/sse');
  expect(sseUrlFor('/ws', 'https://page.example/app')).toBe('https://page.example/sse');
});

it('puts the subscribe in the query: channels, resume as JSON, since, token', () => {
  const url = new URL(sseRequestUrl('http://gw/sse', { channels: ['all', 'match:a'], resume: { 'match:a': 4 }, since: '2026-01-01T00:00:00.000Z', token: 't' }));
  expect(url.pathname).toBe('/sse');
  expect(url.searchParams.get('channels')).toBe('all,match:a');
  expect(JSON.parse(url.searchParams.get('resume')!)).toEqual({ 'match:a': 4 });
  expect(url.searchParams.get('since')).toBe('2026-01-01T00:00:00.000Z');
  expect(url.searchParams.get('token')).toBe('t');
  const bare = new URL(sseRequestUrl('http://gw/sse', { channels: ['all'], resume: {} }));
  expect([...bare.searchParams.keys()]).toEqual(['channels']);
});

it('falls back to SSE after N WebSocket failures before open, only when both are allowed', () => {
  const both = ['websocket', 'sse'] as const;
  expect(nextTransport(both, 0, 2)).toBe('websocket');
  expect(nextTransport(both, 1, 2)).toBe('websocket');
  expect(nextTransport(both, 2, 2)).toBe('sse');
  expect(nextTransport(['websocket'], 10, 2)).toBe('websocket');
  expect(nextTransport(['sse'], 0, 2)).toBe('sse');
  expect(nextTransport(both, 1, 1)).toBe('sse');
});

it('maps the error that ends a stream to the WebSocket close code of the same meaning', () => {
  expect(closeCodeForStreamEnd('SERVER_DRAINING')).toBe(1012);
  expect(closeCodeForStreamEnd('TOKEN_EXPIRED')).toBe(4001);
  expect(closeCodeForStreamEnd('SLOW_CONSUMER')).toBe(4008);
  expect(closeCodeForStreamEnd(undefined)).toBe(1006);
});

it(`keeps the URL within MAX_SSE_URL_LENGTH (${MAX_SSE_URL_LENGTH}): resume cut, the least recently active streams (listed last) first`, () => {
  const resume = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`match:${'x'.repeat(60)}-${i}`, 1000 + i]));
  const url = sseRequestUrl('http://gw/sse', { channels: ['all'], resume, since: '2026-01-01T00:00:00.000Z', token: 't' });
  expect(url.length).toBeLessThanOrEqual(MAX_SSE_URL_LENGTH);
  const kept = Object.keys(JSON.parse(new URL(url).searchParams.get('resume')!));
  expect(kept.length).toBeGreaterThan(40);
  expect(kept).toEqual(Object.keys(resume).slice(0, kept.length));
  expect(new URL(url).searchParams.get('since')).toBe('2026-01-01T00:00:00.000Z');
});
