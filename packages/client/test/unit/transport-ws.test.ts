import { FRAMES_PER_SECOND, WebSocketTransport } from '../../src/transport-ws';
import { NOOP } from '../../src/transport';
import { FakeSocket } from './fake-socket';

beforeEach(() => {
  FakeSocket.all = [];
  jest.useFakeTimers();
});
afterEach(() => jest.useRealTimers());

const handlers = { open: NOOP, message: NOOP, replayed: NOOP, interrupted: NOOP, close: NOOP };

it(`sends ${2 * FRAMES_PER_SECOND} messages at once, then ${FRAMES_PER_SECOND} a second, in order; detach drops what waits`, async () => {
  const transport = new WebSocketTransport(FakeSocket, 0, handlers);
  transport.open({ url: 'ws://gw/ws', token: undefined });
  const socket = FakeSocket.all[0]!;
  socket.open();
  for (let i = 0; i < 50; i++) expect(transport.send({ action: 'unsubscribe', channels: [`match:m${i}`] })).toBe(true);
  expect(socket.sent).toHaveLength(2 * FRAMES_PER_SECOND);
  expect(transport.queued).toBe(50 - 2 * FRAMES_PER_SECOND);
  await jest.advanceTimersByTimeAsync(1000);
  expect(socket.sent.length).toBeGreaterThanOrEqual(3 * FRAMES_PER_SECOND - 1);
  expect(socket.sent.length).toBeLessThanOrEqual(3 * FRAMES_PER_SECOND);
  await jest.advanceTimersByTimeAsync(1000);
  expect(socket.sent.map((m) => m.channels[0])).toEqual(Array.from({ length: socket.sent.length }, (_, i) => `match:m${i}`));
  transport.detach();
  expect(transport.queued).toBe(0);
  expect(jest.getTimerCount()).toBe(0);
});
