import { randomUUID } from 'node:crypto';
import { ErrorCodes, ProtocolError, parseClientMessage, type ErrorCode, type ServerMessage } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { Request, Response } from 'express';
import type { Identity } from '@matchcast/auth';
import type { GatewayMetrics } from '../metrics';
import { SubscriberState } from '../delivery/subscriber';
import type { Client, Sessions, SubscribeRequest } from '../sessions/session';
import { admit, refusal, type AdmissionRules } from './admission';
import { controlText, sseChunk, type EventFrames } from '../delivery/frames';

export const SSE_PATH = '/sse';

/** A Server-Sent Events client: the same JSON as WebSocket, with `id:` = `<stream>@<seq>`. */
export class SseClient extends SubscriberState implements Client {
  constructor(
    readonly id: string,
    public identity: Identity,
    private readonly res: Response,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: () => void,
  ) {
    super();
  }

  deliver(frames: EventFrames): boolean {
    return this.write(frames.sseFrame());
  }

  send(message: ServerMessage): void {
    this.write(sseChunk(controlText(message)));
  }

  /** SSE comment line: keeps proxies from timing out an idle stream. */
  keepAlive(): void {
    this.write(Buffer.from(': keep-alive\n\n'));
  }

  private write(chunk: Buffer): boolean {
    if (this.res.writableEnded) return false;
    if (this.res.writableLength > this.maxBufferedBytes) {
      this.onSlow();
      this.close('SLOW_CONSUMER');
      return false;
    }
    this.res.write(chunk);
    return true;
  }

  /** Ends the stream with an error event; the browser's EventSource reconnects (with Last-Event-ID). */
  close(code: ErrorCode): void {
    if (this.res.writableEnded) return;
    this.send({ type: 'error', code, message: ErrorCodes[code].message });
    this.res.end();
  }
}

/**
 * The SSE request as a subscribe message: `channels`, optional `resume` (JSON {stream: seq})
 * and `since` query parameters, and the browser's Last-Event-ID (`<stream>@<seq>`), which is
 * exact for one stream. Parsed by the same code as a WebSocket subscribe.
 */
function subscribeFrom(req: Request, maxChannels: number): SubscribeRequest {
  const query = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
  const resume: Record<string, unknown> = {};
  const resumeQuery = query('resume');
  if (resumeQuery) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(resumeQuery);
    } catch {
      // answered below, as any other value that is not an object
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ProtocolError('BAD_RESUME', 'resume must be a JSON object of {stream: seq}');
    Object.assign(resume, parsed);
  }
  const lastEventId = req.get('last-event-id');
  const at = lastEventId?.lastIndexOf('@') ?? -1;
  if (lastEventId && at > 0) resume[lastEventId.slice(0, at)] = Number(lastEventId.slice(at + 1));
  const message = { action: 'subscribe', channels: (query('channels') ?? '').split(',').filter(Boolean), resume, since: query('since') };
  const parsed = parseClientMessage(JSON.stringify(message), { maxChannelsPerMessage: maxChannels });
  if (parsed.action !== 'subscribe') throw new ProtocolError('BAD_MESSAGE');
  return parsed;
}

export interface SseOptions {
  maxBufferedBytes: number;
  maxChannels: number;
}

/**
 * GET /sse. Everything that can refuse — admission (origin, caps, token), the query, the
 * authorization of every channel and resume key — happens before the `200`, and a refusal
 * is a plain HTTP error with the coded JSON body, which stops EventSource from retrying.
 */
export function sseHandler(options: SseOptions, rules: AdmissionRules, sessions: Sessions, metrics: GatewayMetrics, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    let release: (() => void) | undefined;
    let client: SseClient;
    let subscribe: SubscribeRequest;
    try {
      const admitted = await admit(rules, req, typeof req.query.token === 'string' ? req.query.token : null);
      release = admitted.release;
      subscribe = subscribeFrom(req, options.maxChannels);
      sessions.check(admitted.identity, new Set(), subscribe);
      client = new SseClient(randomUUID(), admitted.identity, res, options.maxBufferedBytes, () => metrics.slowConsumers.inc());
    } catch (error) {
      release?.();
      const failure = refusal(error, metrics.connectionsRejected, logger);
      res.status(failure.httpStatus).json(failure.body());
      return;
    }
    if (req.socket.destroyed) return release(); // left while its token was checked
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    sessions.open(client);
    metrics.connections.inc({ transport: 'sse' });
    res.on('close', () => {
      release?.();
      sessions.closed(client);
      metrics.connections.dec({ transport: 'sse' });
    });
    client.send({ type: 'connection_status', status: 'connected', connection_id: client.id, server_time: new Date().toISOString() });
    sessions.subscribe(client, subscribe).catch((error: unknown) => {
      sessions.reject(client, error);
      client.close(ProtocolError.from(error).code);
    });
  };
}
