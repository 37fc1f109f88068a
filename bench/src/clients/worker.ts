/**
 * A client worker process: holds a share of the benchmark's WebSocket subscribers, records
 * the receive time of every event delivery, and reports counts and latencies to the parent
 * over IPC. Exits when the parent goes away, so no worker outlives a run.
 */
import http from 'node:http';
import { DEFAULT_BACKOFF, closeAction, reconnectDelay } from '@matchcast/client';
import WebSocket from 'ws';
import { nowMs } from '../stats';
import type { BaselineCommand, CollectCommand, Collected, ConnectCommand, Reconnects, WorkerCommand, WorkerReply } from './messages';
import { parseEvent, scanEvent } from './wire';

/** Recorded deliveries per worker (3 doubles each); beyond this only counts are kept. */
const MAX_RECORDS = 4_000_000;
const CHUNK = 65_536;
/** Every Nth event message is fully parsed to check the fast scan. */
const VERIFY_EVERY = 97;
/** The most streams a resubscribe names in `resume` (the gateway's WS_MAX_CHANNELS default, as the client SDK's). */
const MAX_RESUME = 100;

interface Client {
  ws: { terminate(): void } | undefined;
  channels: string[];
  /** stream index → last seq received. */
  last: Map<number, number>;
  unique: number;
  /** The newest event timestamp received (ISO strings of one format compare as times): the `since` of a resubscribe. */
  newest: string | undefined;
  closedAt: number;
  openedAt: number;
  resumedAt: number;
}

const streamIndex = new Map<string, number>();
const streamNames: string[] = [];
const chunks: Float64Array[] = [];
let chunkFill = CHUNK * 3;
let recorded = 0;
let unrecorded = 0;
let delivered = 0;
let duplicates = 0;
let gaps = 0;
let parseMismatches = 0;
let eventMessages = 0;
let firstReceiveMs = 0;
let lastReceiveMs = 0;
let closedDuringRun = 0;
let early = 0;
let missed = 0;
let reconnectAttempts = 0;
const reconnectErrors: Record<string, number> = {};
const closeCodes: Record<string, number> = {};
let clients: Client[] = [];
let closing = false;
/** Clients reconnect (ConnectCommand.fallbackUrl): they keep the newest event timestamp for `since`. */
let trackTimes = false;
/** stream index → the run's first seq (BaselineCommand); deliveries below it are history. */
const runFirstSeq = new Map<number, number>();

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

function intern(stream: string): number {
  let index = streamIndex.get(stream);
  if (index === undefined) {
    index = streamNames.length;
    streamNames.push(stream);
    streamIndex.set(stream, index);
  }
  return index;
}

function onEvent(client: Client, text: string, protocol: 'matchcast' | 'socketio', at: number): void {
  const position = scanEvent(text);
  if (!position) return;
  if (++eventMessages % VERIFY_EVERY === 0) {
    const checked = parseEvent(text, protocol);
    if (checked?.stream !== position.stream || checked.seq !== position.seq) parseMismatches++;
  }
  const stream = intern(position.stream);
  const last = client.last.get(stream);
  if (last !== undefined && position.seq <= last) {
    duplicates++;
    return;
  }
  if (last !== undefined && position.seq > last + 1) {
    gaps++;
    missed += position.seq - last - 1;
  }
  client.last.set(stream, position.seq);
  if (trackTimes) noteTimestamp(client, text);
  // With a baseline, only the run's events count: history a `since` replayed, or another stream's, is counted apart.
  const first = runFirstSeq.size > 0 ? runFirstSeq.get(stream) : 0;
  if (first === undefined || position.seq < first) {
    early++;
    return;
  }
  client.unique++;
  delivered++;
  if (firstReceiveMs === 0) firstReceiveMs = at;
  lastReceiveMs = at;
  if (recorded >= MAX_RECORDS) {
    unrecorded++;
    return;
  }
  if (chunkFill === CHUNK * 3) {
    chunks.push(new Float64Array(CHUNK * 3));
    chunkFill = 0;
  }
  const chunk = chunks[chunks.length - 1]!;
  chunk[chunkFill] = stream;
  chunk[chunkFill + 1] = position.seq;
  chunk[chunkFill + 2] = at;
  chunkFill += 3;
  recorded++;
}

/**
 * Opens one SSE client (GET /sse?channels=…) and resolves once its subscription is confirmed.
 * Reads `data:` lines only: the per-connection `id:` lines are received (their bytes count)
 * but not parsed, as a browser keeps only the last one.
 */
function openSse(command: ConnectCommand, client: Client, channels: string[], localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const req = http.get(`${command.url}?channels=${channels.join(',')}`, { localAddress, agent: false });
    client.ws = { terminate: () => req.destroy() };
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('timed out before the subscription was confirmed'));
    }, command.timeoutMs);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        res.resume();
        return reject(new Error(`HTTP ${res.statusCode}`));
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = nowMs();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const dataAt = block.indexOf('data: ');
          if (dataAt < 0) continue;
          const text = block.slice(dataAt + 6);
          if (text.startsWith('{"type":"subscribed"')) {
            subscribed = true;
            clearTimeout(timer);
            resolve();
          } else if (text.startsWith('{"type":"error"')) {
            if (!subscribed) reject(new Error(text));
          } else {
            onEvent(client, text, 'matchcast', at);
          }
        }
      });
      res.on('close', () => {
        if (subscribed && !closing) {
          closedDuringRun++;
          closeCodes.sse = (closeCodes.sse ?? 0) + 1;
        }
      });
    });
    req.on('error', (error) => {
      if (!subscribed) {
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

/** Opens one client and resolves once its subscription is confirmed. */
function open(command: ConnectCommand, client: Client, channels: string[], localAddress: string): Promise<void> {
  if (command.protocol === 'sse') return openSse(command, client, channels, localAddress);
  return new Promise((resolve, reject) => {
    const url =
      command.protocol === 'socketio' ? `${command.url}/socket.io/?EIO=4&transport=websocket` : command.url;
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 1 << 20 });
    client.ws = ws;
    let subscribed = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('timed out before the subscription was confirmed'));
    }, command.timeoutMs);
    const done = () => {
      subscribed = true;
      clearTimeout(timer);
      resolve();
    };
    ws.on('open', () => {
      if (command.protocol === 'matchcast') ws.send(JSON.stringify({ action: 'subscribe', channels }));
    });
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      const text = data.toString();
      if (command.protocol === 'matchcast') {
        if (text.startsWith('{"type":"subscribed"')) return done();
        // Before any event, a reconnect's `since` is when the client first connected, in the server's clock (as the SDK does).
        if (trackTimes && text.startsWith('{"type":"connection_status"')) return noteServerTime(client, text);
        if (text.startsWith('{"type":"error"')) return reject(new Error(text));
        return onEvent(client, text, 'matchcast', at);
      }
      // Engine.IO v4 over a bare WebSocket: 0 open, 2 ping, 4 message; Socket.IO 0 connect, 2 event.
      if (text.startsWith('42["message"')) return onEvent(client, text, 'socketio', at);
      if (text === '2') return ws.send('3');
      if (text.startsWith('0{')) return ws.send('40');
      if (text.startsWith('40')) return ws.send(`42${JSON.stringify(['subscribe', { channels }])}`);
      if (text.startsWith('42["subscribed"')) return done();
      if (text.startsWith('44')) return reject(new Error(`socket.io connect error ${text}`));
    });
    ws.on('error', (error) => {
      if (!subscribed) {
        clearTimeout(timer);
        reject(error);
      }
    });
    ws.on('close', (code) => {
      if (!subscribed) {
        clearTimeout(timer);
        reject(new Error(`closed with ${code} before subscribing`));
      } else if (!closing) {
        closedDuringRun++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
        if (command.fallbackUrl) {
          client.closedAt = nowMs();
          reconnect(command, client, localAddress, code, true, 0);
        }
      }
    });
  });
}

/** Keeps the event's timestamp if it is the newest the client has (a cheap scan, as scanEvent's). */
function noteTimestamp(client: Client, text: string): void {
  const at = text.indexOf('"timestamp":"');
  if (at < 0) return;
  const timestamp = text.slice(at + 13, text.indexOf('"', at + 13));
  if (client.newest === undefined || timestamp > client.newest) client.newest = timestamp;
}

function noteServerTime(client: Client, text: string): void {
  client.newest ??= /"server_time":"([^"]+)"/.exec(text)?.[1];
}

/** The subscribe a client sends when it comes back: its channels, `resume` for every stream it has seen, and `since`. */
function resubscribe(client: Client): string {
  const resume: Record<string, number> = {};
  let count = 0;
  for (const [stream, seq] of client.last) {
    if (count++ >= MAX_RESUME) break;
    resume[streamNames[stream]!] = seq;
  }
  return JSON.stringify({ action: 'subscribe', channels: client.channels, resume, ...(client.newest ? { since: client.newest } : {}) });
}

/**
 * A dropped client comes back on the fallback URL as @matchcast/client does: after the SDK's
 * delay for how the connection ended (closeAction, reconnectDelay: spread over lostJitterMs
 * when an open connection was lost, longer with each failed attempt), with resume and since;
 * it is resumed when the server says every replay is done.
 */
function reconnect(command: ConnectCommand, client: Client, localAddress: string, closeCode: number, wasOpen: boolean, attempt: number): void {
  const action = closeAction(closeCode, undefined, wasOpen);
  if (action === 'auth' || action === 'fatal') return;
  setTimeout(() => {
    if (closing) return;
    reconnectAttempts++;
    const ws = new WebSocket(command.fallbackUrl!, { localAddress, perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 1 << 20 });
    client.ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      if (!(client.openedAt > 0)) client.openedAt = nowMs();
      ws.send(resubscribe(client));
    });
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      const text = data.toString();
      if (text.startsWith('{"type":"resumed"')) {
        if (!(client.resumedAt > 0)) client.resumedAt = at;
        return;
      }
      if (text.startsWith('{"type":"error"')) {
        const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? 'unknown';
        reconnectErrors[code] = (reconnectErrors[code] ?? 0) + 1;
        return;
      }
      if (!text.startsWith('{"type":"')) return;
      onEvent(client, text, 'matchcast', at);
    });
    ws.on('error', () => undefined);
    // As the SDK: every delay but a drain's counts as an attempt; a live connection starts again from 0.
    ws.on('close', (code) => {
      if (!closing) reconnect(command, client, localAddress, code, opened, opened ? 0 : attempt + 1);
    });
  }, reconnectDelay(action, attempt, DEFAULT_BACKOFF));
}

async function connectAll(command: ConnectCommand): Promise<void> {
  trackTimes = command.fallbackUrl !== undefined;
  clients = command.channels.map((channels) => ({ ws: undefined, channels, last: new Map(), unique: 0, newest: undefined, closedAt: 0, openedAt: 0, resumedAt: 0 }));
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors = new Map<string, number>();
  const lane = async () => {
    while (next < clients.length) {
      const i = next++;
      try {
        await open(command, clients[i]!, command.channels[i]!, command.localAddresses[i % command.localAddresses.length]!);
        ok++;
      } catch (error) {
        failed++;
        const message = (error as Error).message;
        errors.set(message, (errors.get(message) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(command.concurrency, clients.length) }, lane));
  send({ type: 'connected', ok, failed, errors: [...errors].slice(0, 5).map(([m, n]) => `${n}× ${m}`) });
}

function collect(command: CollectCommand): Collected {
  const table = new Map<string, { first: number; commits: Float64Array }>();
  command.streams.forEach((name, i) => table.set(name, { first: command.firstSeq[i]!, commits: command.commits[i]! }));
  const byLocal = streamNames.map((name) => table.get(name));
  const latencies = new Float64Array(recorded);
  let count = 0;
  let unexpected = 0;
  const windows = (command.windowsMs ?? []).map(([from, to]) => ({ from, to, latencies: [] as number[] }));
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c]!;
    const fill = c === chunks.length - 1 ? chunkFill : CHUNK * 3;
    for (let i = 0; i < fill; i += 3) {
      const entry = byLocal[chunk[i]!];
      const offset = chunk[i + 1]! - (entry?.first ?? 0);
      const committed = entry && offset >= 0 && offset < entry.commits.length ? entry.commits[offset]! : NaN;
      if (!Number.isFinite(committed)) {
        unexpected++;
        continue;
      }
      const latency = chunk[i + 2]! - committed;
      latencies[count++] = latency;
      for (const window of windows) if (committed >= window.from && committed <= window.to) window.latencies.push(latency);
    }
  }
  return {
    type: 'collected',
    latencies: latencies.subarray(0, count),
    windowLatencies: windows.map((window) => Float64Array.from(window.latencies)),
    unique: Int32Array.from(clients, (client) => client.unique),
    firstReceiveMs,
    lastReceiveMs,
    duplicates,
    gaps,
    unexpected,
    parseMismatches,
    unrecorded,
    early,
    missed,
    closeCodes,
  };
}

function reconnects(): Reconnects {
  return {
    type: 'reconnects',
    closedAt: Float64Array.from(clients, (client) => (client.closedAt > 0 ? client.closedAt : NaN)),
    openedAt: Float64Array.from(clients, (client) => (client.openedAt > 0 ? client.openedAt : NaN)),
    resumedAt: Float64Array.from(clients, (client) => (client.resumedAt > 0 ? client.resumedAt : NaN)),
    attempts: reconnectAttempts,
    errors: reconnectErrors,
  };
}

function baseline(command: BaselineCommand): void {
  command.streams.forEach((stream, i) => runFirstSeq.set(intern(stream), command.firstSeq[i]!));
}

async function closeAll(): Promise<void> {
  closing = true;
  for (const client of clients) client.ws?.terminate();
  send({ type: 'closed' });
}

process.on('message', (command: WorkerCommand) => {
  try {
    switch (command.cmd) {
      case 'connect':
        void connectAll(command).catch((error: Error) => send({ type: 'error', message: error.message }));
        return;
      case 'stats':
        return send({ type: 'stats', delivered, closed: closedDuringRun });
      case 'collect':
        return send(collect(command));
      case 'baseline':
        baseline(command);
        return send({ type: 'baselined' });
      case 'reconnects':
        return send(reconnects());
      case 'close':
        void closeAll();
        return;
    }
  } catch (error) {
    send({ type: 'error', message: (error as Error).message });
  }
});
// The parent is gone (ended, crashed or killed): leave with it.
process.on('disconnect', () => process.exit(0));
// Stopped (ClientPool.close): leave through process.exit, which writes a --cpu-prof profile; a signal's default would not.
process.on('SIGTERM', () => process.exit(0));
