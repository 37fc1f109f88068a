/**
 * Peer: a plain `ws` server speaking the gateway's protocol, fed from the same Redis channel,
 * with the same routing (routeEvent) and subscribe message, so the same clients measure it.
 * PEER_FRAMING=naive (default): every delivery does its own JSON.stringify + ws.send, as a
 * first implementation would. PEER_FRAMING=prebuilt: the floor — the frame is serialized and
 * framed once per channel and the same buffer written to each TCP socket, with nothing else
 * (no sequencing, metrics, slow-consumer checks); what any fan-out server pays at least.
 * PEER_FRAMING=corked: prebuilt, plus each socket is corked at its first write in an event-loop
 * turn and uncorked once at the end of it (setImmediate), so events that arrive together
 * leave in one write per socket instead of one per event: the change proposed for the gateway.
 */
import type { Socket } from 'node:net';
import { eventMessage, routeEvent, type OutboxEvent } from '@matchcast/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import { exitOnSignal, peerEnv, peerHttpServer, subscribeEvents } from './source';

type FrameOptions = { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean };
const Sender = (WebSocket as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;
const framing = process.env.PEER_FRAMING ?? 'naive';
const prebuilt = framing === 'prebuilt' || framing === 'corked';
const corked = new Set<Socket>();
function cork(socket: Socket): void {
  if (corked.size === 0) setImmediate(flush);
  if (!corked.has(socket)) {
    socket.cork();
    corked.add(socket);
  }
}
function flush(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

interface Client {
  ws: WebSocket;
  socket: Socket;
  channels: Set<string>;
  lastEvent: OutboxEvent | undefined;
}

const { port, redisUrl } = peerEnv();
const byChannel = new Map<string, Set<Client>>();
let ready = false;
const server = peerHttpServer(() => ready);
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 4096, clientTracking: false });

wss.on('connection', (ws) => {
  const client: Client = { ws, socket: (ws as unknown as { _socket: Socket })._socket, channels: new Set(), lastEvent: undefined };
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
    let frame: Buffer | undefined;
    for (const client of clients) {
      if (client.lastEvent === event) continue;
      client.lastEvent = event;
      if (!prebuilt) {
        client.ws.send(JSON.stringify(eventMessage(event, channel)));
        continue;
      }
      frame ??= Buffer.concat(
        Sender.frame(Buffer.from(JSON.stringify(eventMessage(event, channel))), { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }),
      );
      if (framing === 'corked') cork(client.socket);
      client.socket.write(frame);
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
