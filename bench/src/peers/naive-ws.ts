/**
 * Peer: the naive WebSocket server — the gateway's protocol, but every delivery does its own
 * JSON.stringify + ws.send, as a first implementation would. Same source (Redis), same
 * routing (routeEvent), same subscribe message, so the same clients measure it.
 */
import { eventMessage, routeEvent, type OutboxEvent } from '@matchcast/protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { exitOnSignal, peerEnv, peerHttpServer, subscribeEvents } from './source';

interface Client {
  ws: WebSocket;
  channels: Set<string>;
  lastEvent: OutboxEvent | undefined;
}

const { port, redisUrl } = peerEnv();
const byChannel = new Map<string, Set<Client>>();
let ready = false;
const server = peerHttpServer(() => ready);
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 4096, clientTracking: false });

wss.on('connection', (ws) => {
  const client: Client = { ws, channels: new Set(), lastEvent: undefined };
  ws.on('message', (data: Buffer) => {
    let message: { action?: string; channels?: unknown };
    try {
      message = JSON.parse(data.toString()) as typeof message;
    } catch {
      return;
    }
    if (message.action === 'subscribe' && Array.isArray(message.channels)) {
      for (const channel of message.channels as string[]) {
        let set = byChannel.get(channel);
        if (!set) byChannel.set(channel, (set = new Set()));
        set.add(client);
        client.channels.add(channel);
      }
      ws.send(JSON.stringify({ type: 'subscribed', channels: message.channels }));
    }
  });
  ws.on('close', () => {
    for (const channel of client.channels) byChannel.get(channel)?.delete(client);
  });
  ws.on('error', () => undefined);
  ws.send(JSON.stringify({ type: 'connection_status', status: 'connected', server_time: new Date().toISOString() }));
});

const source = subscribeEvents(redisUrl, (event) => {
  for (const channel of routeEvent(event)) {
    const clients = byChannel.get(channel);
    if (!clients) continue;
    for (const client of clients) {
      if (client.lastEvent === event) continue;
      client.lastEvent = event;
      client.ws.send(JSON.stringify(eventMessage(event, channel)));
    }
  }
});

void source.ready.then(() => {
  server.listen(port, '127.0.0.1', () => (ready = true));
});
exitOnSignal(() => {
  source.close();
  server.close();
});
