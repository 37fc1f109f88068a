/**
 * Peer: Socket.IO with its Redis adapter, the usual way to scale Socket.IO out. Clients join
 * one room per channel; each event is one io.to(rooms).emit(), which the adapter also
 * publishes to Redis for other nodes (and this node receives back and ignores), as in a
 * real multi-node deployment. Same source (Redis 'pg_notify:events') as the gateway.
 */
import { eventMessage, routeEvent } from '@matchcast/protocol';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { exitOnSignal, peerEnv, peerHttpServer, subscribeEvents } from './source';

const { port, redisUrl } = peerEnv();
let ready = false;
const server = peerHttpServer(() => ready);
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  adapter: createAdapter(pub, sub),
});

io.on('connection', (socket) => {
  socket.on('subscribe', (message: { channels?: unknown }) => {
    const channels = Array.isArray(message?.channels) ? (message.channels as string[]) : [];
    void socket.join(channels);
    socket.emit('subscribed', channels);
  });
});

const source = subscribeEvents(redisUrl, (event) => {
  const channels = routeEvent(event);
  // One broadcast to the union of rooms: Socket.IO delivers once per socket. The channel
  // field names the most specific channel (a room broadcast cannot vary it per client).
  io.to(channels).emit('message', eventMessage(event, channels[0] ?? 'all'));
});

void Promise.all([source.ready, new Promise((resolve) => sub.once('ready', resolve))]).then(() => {
  server.listen(port, '127.0.0.1', () => (ready = true));
});
exitOnSignal(() => {
  source.close();
  void io.close();
  pub.disconnect();
  sub.disconnect();
});
