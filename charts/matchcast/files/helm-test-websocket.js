// `helm test` for matchcast: open a WebSocket to the gateway, subscribe to "all", and pass as
// soon as one event (a message with a stream and seq) arrives; fail on an error message, a
// closed socket that cannot be reopened, or no event before the deadline. Self-contained: Node's
// built-in WebSocket (Node 22) or, failing that, the `ws` package of the gateway image.
'use strict';
const { createHmac } = require('node:crypto');

const url = process.env.GATEWAY_WS_URL;
const deadline = Date.now() + Number(process.env.TIMEOUT_SECONDS || 60) * 1000;
const WebSocketImpl = globalThis.WebSocket || require('ws');

function log(msg, fields) {
  console.log(JSON.stringify({ time: new Date().toISOString(), msg, ...fields }));
}

function token() {
  const secret = process.env.AUTH_JWT_SECRET;
  if (!secret) return '';
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'helm-test', exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function finish(ok, msg, fields) {
  log(msg, fields);
  process.exit(ok ? 0 : 1);
}

function attempt(n) {
  if (Date.now() > deadline) finish(false, 'FAIL: no update arrived before the deadline', { url });
  const jwt = token();
  const ws = new WebSocketImpl(jwt ? `${url}?token=${jwt}` : url);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    log('connected; subscribing to "all"', { url, attempt: n });
    ws.send(JSON.stringify({ action: 'subscribe', channels: ['all'] }));
  };
  ws.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(String(event.data));
    } catch {
      finish(false, 'FAIL: the gateway sent a frame that is not JSON', { data: String(event.data).slice(0, 200) });
    }
    if (message.type === 'error') finish(false, 'FAIL: the gateway answered with an error', { message });
    if (message.type === 'subscribed') log('subscribed', { channels: message.channels });
    if (typeof message.stream === 'string' && typeof message.seq === 'number') {
      finish(true, 'PASS: update received', { type: message.type, channel: message.channel, stream: message.stream, seq: message.seq });
    }
  };
  ws.onerror = () => {};
  ws.onclose = (event) => {
    log(opened ? 'connection closed; reconnecting' : 'could not connect; retrying', { code: event.code, attempt: n });
    setTimeout(() => attempt(n + 1), 2000);
  };
}

if (!url) finish(false, 'FAIL: GATEWAY_WS_URL is not set');
setTimeout(() => finish(false, 'FAIL: no update arrived before the deadline', { url }), Math.max(0, deadline - Date.now())).unref();
attempt(1);
