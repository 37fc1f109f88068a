/**
 * One fuzzing WebSocket client: connects (optionally with a token), sends a batch of frames
 * of any kind, then a ping as a sentinel (replies come back in request order, so its pong
 * means every earlier frame was answered), and records everything the server said.
 */
import { WebSocket } from 'ws';
import type { Check } from './property';
import { short } from './property';
import { jsonBody } from './raw-http';

export type Frame =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  /** A text frame whose payload is not valid UTF-8. */
  | { kind: 'bad-utf8'; bytes: Uint8Array }
  | { kind: 'oversize'; size: number; binary: boolean }
  | { kind: 'fragmented'; parts: string[] }
  | { kind: 'flood'; count: number; text: string };

export interface WsOutcome {
  opened: boolean;
  httpStatus?: number;
  messages: Record<string, unknown>[];
  closeCode?: number;
  closeReason?: string;
  sentinelAnswered: boolean;
}

const CONTROL_REPLIES = new Set(['subscribed', 'unsubscribed', 'pong', 'error']);

export function frameCount(frame: Frame): number {
  return frame.kind === 'flood' ? frame.count : 1;
}

/** Sends `frames`, checks every reply against the catalog. */
export async function wsBatch(url: string, frames: Frame[], check: Check, input: string, headers?: Record<string, string>): Promise<WsOutcome> {
  const outcome: WsOutcome = { opened: false, messages: [], sentinelAnswered: false };
  const ws = new WebSocket(url, { handshakeTimeout: 4000, maxPayload: 64 * 1024 * 1024, headers, perMessageDeflate: false });
  let connected: () => void;
  const connectedP = new Promise<void>((resolve) => (connected = resolve));
  let closed: () => void;
  const closedP = new Promise<void>((resolve) => (closed = resolve));
  ws.on('unexpected-response', (_req, res) => {
    outcome.httpStatus = res.statusCode;
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => {
      const body = jsonBody({ headers: res.headers as Record<string, string>, body: Buffer.concat(chunks), ended: 'closed', status: res.statusCode });
      if ((res.statusCode ?? 0) >= 500) check.fail(`WS upgrade answered HTTP ${res.statusCode} for ${input}`);
      if (body && typeof body === 'object' && 'error' in body) check.code('WS upgrade', (body as { error: unknown }).error, input);
      connected();
      closed();
    });
    res.on('error', () => (connected(), closed()));
  });
  ws.on('error', () => (connected(), closed()));
  ws.on('close', (code, reason) => {
    outcome.closeCode = code;
    outcome.closeReason = reason.toString();
    connected();
    closed();
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return check.fail(`server sent a binary frame for ${input}`);
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data.toString()) as Record<string, unknown>;
    } catch {
      return check.fail(`server sent non-JSON text ${short(data.toString())} for ${input}`);
    }
    outcome.messages.push(message);
    if (message.type === 'connection_status') connected();
    if (message.type === 'error') check.code('WS error message', message.code, input);
  });
  const deadline = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
  await Promise.race([connectedP, deadline(5000)]);
  if (ws.readyState !== WebSocket.OPEN) {
    if (outcome.httpStatus === undefined && outcome.closeCode === undefined) check.fail(`WS upgrade got no answer within 5 s for ${input}`);
    ws.terminate();
    return outcome;
  }
  outcome.opened = true;

  let sent = 0;
  const send = (data: string | Buffer, options: { binary?: boolean; fin?: boolean } = {}) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(data, options);
  };
  for (const frame of frames) {
    switch (frame.kind) {
      case 'text': send(frame.text); break;
      case 'binary': send(Buffer.from(frame.bytes), { binary: true }); break;
      case 'bad-utf8': send(Buffer.from(frame.bytes), { binary: false }); break;
      case 'oversize': {
        const text = '{"action":"subscribe","channels":["' + 'a'.repeat(Math.max(0, frame.size - 40)) + '"]}';
        send(frame.binary ? Buffer.from(text) : text, { binary: frame.binary });
        break;
      }
      case 'fragmented':
        frame.parts.forEach((part, i) => send(part, { fin: i === frame.parts.length - 1 }));
        break;
      case 'flood':
        for (let i = 0; i < frame.count; i++) send(frame.text);
        break;
    }
    sent += frameCount(frame);
  }
  // The sentinel: a ping, answered after every earlier frame (replies come in request order).
  let sentinelSent = false;
  if (ws.readyState === WebSocket.OPEN) {
    sentinelSent = true;
    ws.send('{"action":"ping"}');
  }
  const controlReplies = () => outcome.messages.filter((m) => CONTROL_REPLIES.has(String(m.type))).length;
  const waitPong = new Promise<void>((resolve) => {
    const onMessage = () => {
      if (controlReplies() >= sent + 1) resolve();
    };
    ws.on('message', onMessage);
    ws.on('close', () => resolve());
    onMessage();
  });
  await Promise.race([waitPong, deadline(8000)]);
  const replies = controlReplies();
  if (ws.readyState === WebSocket.OPEN) {
    outcome.sentinelAnswered = true;
    if (sentinelSent && replies < sent + 1) {
      check.fail(`silence: ${sent} frames + ping sentinel got only ${replies} control replies in 8 s (connection still open) for ${input}`);
    }
  }
  if (outcome.closeCode !== undefined) check.closeCode('WS close', outcome.closeCode, outcome.closeReason ?? '', input);
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
    ws.close(1000);
    await Promise.race([closedP, deadline(1500)]);
  }
  ws.terminate();
  return outcome;
}
