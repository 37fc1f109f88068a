// `helm test` for matchcast's API: ask for the unread count of a test user, through the API's
// Service, as an app would. With AUTH_JWT_SECRET (the release's token secret) the test signs a
// token and needs 200 with a number: the API is up, verifies tokens and reads its database as its
// own user. Without it the API can verify no token, so the test needs the 401 refusal.
// Self-contained (Node's fetch and crypto only), retried until the deadline.
'use strict';
const { createHmac } = require('node:crypto');

const base = process.env.API_URL;
const secret = process.env.AUTH_JWT_SECRET || '';
const deadline = Date.now() + Number(process.env.TIMEOUT_SECONDS || 60) * 1000;

function log(msg, fields) {
  console.log(JSON.stringify({ time: new Date().toISOString(), msg, ...fields }));
}

function finish(ok, msg, fields) {
  log(msg, fields);
  process.exit(ok ? 0 : 1);
}

function token() {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { sub: 'helm-test', exp: Math.floor(Date.now() / 1000) + 600 };
  if (process.env.AUTH_JWT_ISSUER) claims.iss = process.env.AUTH_JWT_ISSUER;
  if (process.env.AUTH_JWT_AUDIENCE) claims.aud = process.env.AUTH_JWT_AUDIENCE;
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

async function attempt(n) {
  if (Date.now() > deadline) finish(false, 'FAIL: the API did not answer as expected before the deadline', { url: base });
  const url = `${base}/api/notifications/unread-count`;
  try {
    const response = await fetch(url, { headers: secret ? { Authorization: `Bearer ${token()}` } : {}, signal: AbortSignal.timeout(5000) });
    const body = await response.json().catch(() => undefined);
    if (secret && response.status === 200 && typeof body?.unread_count === 'number') {
      finish(true, 'PASS: the API answered the unread count', { unread_count: body.unread_count });
    }
    // The error's code: {"error":"UNAUTHORIZED",…} or {"error":{"code":"UNAUTHORIZED",…}}.
    const code = typeof body?.error === 'string' ? body.error : body?.error?.code;
    if (!secret && response.status === 401 && code === 'UNAUTHORIZED') {
      finish(true, 'PASS: the API answered (no AUTH_JWT_SECRET: only its refusal is checked)', { code });
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 404) {
      finish(false, 'FAIL: the API refused the request', { status: response.status, body });
    }
    log('not yet', { status: response.status, attempt: n });
  } catch (error) {
    log('could not connect; retrying', { error: String(error && error.cause ? error.cause.code || error.cause : error), attempt: n });
  }
  setTimeout(() => void attempt(n + 1), 2000);
}

if (!base) finish(false, 'FAIL: API_URL is not set');
void attempt(1);
