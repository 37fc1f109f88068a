/**
 * Raw HTTP over node:net, so request targets, header names and values, versions and bytes
 * can be anything (Node's http client refuses most of the interesting ones). 127.0.0.1 only.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** undefined when the server sent no status line (closed or stayed silent). */
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** What ended the read: the server closed, we had enough, or the time ran out. */
  ended: 'closed' | 'complete' | 'timeout' | 'error';
  error?: string;
  socket?: Socket;
}

export interface RawOptions {
  /** Stop reading this long after the headers arrived (streaming responses: SSE). */
  bodyWaitMs?: number;
  /** Give up waiting for a status line after this long. */
  timeoutMs?: number;
  /** Called for SSE/streaming bodies: return true once enough has been read. */
  enough?: (body: Buffer) => boolean;
  /** Keep the socket open after a 101 (the caller writes WebSocket bytes and closes it). */
  keepUpgraded?: boolean;
}

function parseHead(head: string): { status?: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const match = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? '');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: match ? Number(match[1]) : undefined, headers };
}

/** Writes `request` bytes to the gateway and reads one response. */
export function rawRequest(port: number, request: Buffer | string, options: RawOptions = {}): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    let done = false;
    let head: { status?: number; headers: Record<string, string> } | undefined;
    let bodyStart = 0;
    let bodyTimer: NodeJS.Timeout | undefined;
    const finish = (ended: RawResponse['ended'], error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(bodyTimer);
      const keep = options.keepUpgraded && head?.status === 101 && ended !== 'closed';
      if (!keep) socket.destroy();
      resolve({
        status: head?.status,
        headers: head?.headers ?? {},
        body: head ? data.subarray(bodyStart) : Buffer.alloc(0),
        ended,
        error,
        socket: keep ? socket : undefined,
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const progress = () => {
      if (!head) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = parseHead(data.subarray(0, end).toString('latin1'));
        bodyStart = end + 4;
        if (head.status === 101) return finish('complete');
        bodyTimer = setTimeout(() => finish('complete'), options.bodyWaitMs ?? 500);
      }
      const body = data.subarray(bodyStart);
      const length = Number(head.headers['content-length']);
      if (Number.isFinite(length) && body.length >= length) return finish('complete');
      if (options.enough?.(body)) return finish('complete');
    };
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      progress();
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (error) => finish('error', error.message));
  });
}

export function httpGet(target: string, headers: [string, string][] = []): Buffer {
  const lines = [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers.map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The JSON body of a response, or undefined. */
export function jsonBody(response: RawResponse): unknown {
  const type = response.headers['content-type'] ?? '';
  if (!type.includes('json')) return undefined;
  let body = response.body;
  if ((response.headers['transfer-encoding'] ?? '').includes('chunked')) body = dechunk(body);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
