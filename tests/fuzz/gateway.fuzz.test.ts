/**
 * Property-based fuzzing of a REAL gateway process (real Postgres, Redis and notify-listener):
 * WebSocket frames, raw HTTP requests and upgrades, SSE and REST query strings, and messages
 * on the Redis bus. After every generated batch the gateway must be alive and answer /healthz;
 * every error it sends must be a documented code (ErrorCodes, read at run time) or a documented
 * close code; no 5xx (or INTERNAL) for bad input. Afterwards its connection count and memory
 * return to baseline, bus garbage leaves no endless work behind, and a normal client still gets
 * a real update end to end.
 *
 * Seeded and bounded (about a minute): FUZZ_SEED=<int> replays a run (the seed is printed at
 * the start and in every failure with fast-check's counterexample); FUZZ_TIME_SCALE=<x> scales
 * runs and time limits; FUZZ_REPORT_ALL=1 records every violating run instead of stopping at
 * the first (LOG_DIR/fuzz-violations.jsonl). Gateway logs: the LOG_DIR printed at the start.
 */
import fc from 'fast-check';
import { RecordingClient } from '@matchcast/chaos';
import { REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL } from '@matchcast/protocol';
import {
  busMessage, buildRawRequest, buildSseTarget, rawRequestSpec, restQuery, sseQuery, wedgeMessage, wsBatch as wsBatchArb,
  type RawRequestSpec, type SseQuery,
} from './support/arbitraries';
import { FuzzStack, LIVE_STREAM, LOG_DIR, MAX_PAYLOAD_BYTES, issuedSignatures, pct, sleep, waitFor } from './support/fuzz-stack';
import { BASE_SEED, Check, REPORT_ALL, TIME_SCALE, fuzz, seedFor, short, summaries } from './support/property';
import { httpGet, jsonBody, rawRequest } from './support/raw-http';
import { wsBatch, type Frame } from './support/ws-probe';

const MB = 1024;
const RSS_BOUND_KB = 50 * MB;

jest.setTimeout(120_000);

describe('fuzz: the gateway survives hostile input', () => {
  const stack = new FuzzStack();
  const suiteStarted = Date.now();

  beforeAll(async () => {
    console.log(
      `[fuzz] FUZZ_SEED=${BASE_SEED} (replay: FUZZ_SEED=${BASE_SEED} pnpm exec jest tests/fuzz) time scale ${TIME_SCALE}` +
        `${REPORT_ALL ? ', report-all mode' : ''}; logs in ${LOG_DIR}`,
    );
    await stack.start();
    // Warm up (JIT, buffers, pools) before taking the memory baseline.
    for (let i = 0; i < 5; i++) {
      await rawRequest(stack.port, httpGet('/api/matches'));
      await rawRequest(stack.port, httpGet('/sse?channels=all'), { bodyWaitMs: 100 });
      await wsBatch(stack.gateway.wsUrl, [{ kind: 'text', text: '{"action":"subscribe","channels":["all"]}' }], new Check(), 'warm-up');
    }
    await sleep(500);
    stack.recordBaseline();
  }, 90_000);

  afterAll(async () => {
    console.log(
      `[fuzz] FUZZ_SEED=${BASE_SEED}; ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n  ${summaries.join('\n  ')}\n` +
        `  gateway restarts: ${stack.restarts.length}${stack.restarts.map((r) => `\n    ${r.at} pid ${r.pid}: ${r.reason}`).join('')}\n  logs: ${LOG_DIR}`,
    );
    await stack.destroy();
  }, 60_000);

  it('WebSocket frames: arbitrary text, near-valid messages, binary, bad UTF-8, oversize, floods', async () => {
    const known: { token: string | null; frames: Frame[] }[] = [
      { token: null, frames: [{ kind: 'text', text: '{"action":"subscribe","channels":["all"],"since":"+275760-09-13T00:00:00.000Z"}' }] },
      { token: null, frames: [{ kind: 'text', text: `{"action":"subscribe","channels":["${LIVE_STREAM}"],"resume":{"${LIVE_STREAM}":1.5}}` }] },
      { token: null, frames: [{ kind: 'text', text: '{"action":"subscribe","channels":["all"],"since":"1970-01-01"}' }] },
      { token: null, frames: [{ kind: 'oversize', size: MAX_PAYLOAD_BYTES + 1, binary: false }] },
      { token: null, frames: [{ kind: 'binary', bytes: Uint8Array.from([1, 2, 3]) }, { kind: 'text', text: 'null' }] },
      { token: null, frames: [{ kind: 'flood', count: 2500, text: '{"action":"ping"}' }] },
    ];
    await fuzz(stack, 'ws-frames', wsBatchArb, async (batch, check) => {
      const url = batch.token === null ? stack.gateway.wsUrl : `${stack.gateway.wsUrl}?token=${pct(batch.token)}`;
      await wsBatch(url, batch.frames, check, short(batch, 400));
    }, { numRuns: 60, timeLimitMs: 9_000, examples: known });
  });

  it('raw HTTP: request targets, methods, versions and headers, on the upgrade path and plain HTTP', async () => {
    const base: RawRequestSpec = {
      method: 'GET', target: '/ws', version: 'HTTP/1.1', host: '127.0.0.1', upgrade: true, key: 'dGhlIHNhbXBsZSBub25jZQ==',
      wsVersion: '13', origin: null, authorization: null, headers: [], after: null,
    };
    const known: RawRequestSpec[] = [
      { ...base, target: '//[' },
      { ...base, target: '//%' },
      { ...base, target: 'http://[' },
      { ...base, target: '/ws?token=%' },
      { ...base, upgrade: false, target: '//[' },
      { ...base, host: null },
      { ...base, key: 'x', wsVersion: '8' },
      { ...base, after: Uint8Array.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]) },
    ];
    await fuzz(stack, 'raw-http', rawRequestSpec, async (spec, check) => {
      const request = buildRawRequest(spec);
      const input = short(request.toString('latin1'), 500);
      const response = await rawRequest(stack.port, request, { keepUpgraded: spec.after !== null, timeoutMs: 3000, bodyWaitMs: 300 });
      if (response.status === undefined) {
        if (response.ended === 'timeout') check.fail(`HTTP: no response within 3 s (connection held open) for ${input}`);
      } else {
        if (response.status >= 500) {
          check.fail(`HTTP ${response.status} for client input ${input}: ${short(response.body.toString('utf8'), 300)}`);
        }
        const body = jsonBody(response);
        if (body && typeof body === 'object' && 'error' in body) check.code('HTTP JSON error', (body as { error: unknown }).error, input);
      }
      if (response.socket) {
        const socket = response.socket;
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        socket.on('error', () => undefined);
        socket.on('data', () => undefined);
        socket.write(Buffer.from(spec.after!));
        await Promise.race([closed, sleep(300)]);
        socket.destroy();
      }
    }, { numRuns: 250, timeLimitMs: 7_000, examples: known });
  });

  it('SSE: query strings (channels, resume, since, token) and Last-Event-ID', async () => {
    const none: SseQuery = { channels: 'all', resume: null, since: null, token: null, repeated: null, lastEventId: null, mode: 'enc' };
    const known: SseQuery[] = [
      { ...none, since: '+275760-09-13T00:00:00.000Z' },
      { ...none, channels: LIVE_STREAM, lastEventId: `${LIVE_STREAM}@1.5` },
      { ...none, resume: '{"__proto__":{"match:fz-live":1}}' },
      { ...none, token: 'a.b.c' },
    ];
    await fuzz(stack, 'sse-query', sseQuery, async (query, check) => {
      const target = buildSseTarget(query);
      const headers: [string, string][] = query.lastEventId === null ? [] : [['Last-Event-ID', query.lastEventId]];
      const request = httpGet(target, headers);
      const input = short(`${target}${query.lastEventId === null ? '' : ` Last-Event-ID: ${query.lastEventId}`}`, 500);
      const response = await rawRequest(stack.port, request, {
        timeoutMs: 3000,
        bodyWaitMs: 700,
        enough: (body) => /"type":"(subscribed|error)"/.test(body.toString('utf8')),
      });
      if (response.status === undefined) {
        check.fail(`SSE: no response (${response.ended}${response.error ? `: ${response.error}` : ''}) for ${input}`);
        return;
      }
      if (response.status >= 500) check.fail(`SSE: HTTP ${response.status} for ${input}: ${short(response.body.toString('utf8'), 300)}`);
      const body = jsonBody(response);
      if (body && typeof body === 'object' && 'error' in body) check.code('SSE HTTP error', (body as { error: unknown }).error, input);
      if (response.status === 200) {
        for (const line of response.body.toString('utf8').split('\n')) {
          if (!line.startsWith('data:')) continue;
          let message: Record<string, unknown>;
          try {
            message = JSON.parse(line.slice(5)) as Record<string, unknown>;
          } catch {
            continue; // chunk boundary cut the line
          }
          if (message.type === 'error') check.code('SSE error event', message.code, input);
        }
      }
    }, { numRuns: 60, timeLimitMs: 5_000, examples: known });
  });

  it('REST: /api/matches query strings', async () => {
    const known = ['limit=-1', 'limit=1.5', 'limit=abc', 'limit=1e999', 'status=%00', 'status=live&status=finished', 'status[]=x', 'limit=9223372036854775808'];
    await fuzz(stack, 'rest-query', restQuery, async (query, check) => {
      const target = `/api/matches${query ? `?${query}` : ''}`;
      const response = await rawRequest(stack.port, httpGet(target), { timeoutMs: 3000, bodyWaitMs: 1000 });
      if (response.status === undefined) return check.fail(`REST: no response (${response.ended}) for ${target}`);
      if (response.status >= 500) check.fail(`REST: HTTP ${response.status} for ${target}: ${short(response.body.toString('utf8'), 300)}`);
      const body = jsonBody(response) as Record<string, unknown> | undefined;
      if (body && 'error' in body) check.code('REST error', body.error, target);
      if (response.status === 200 && !Array.isArray(body?.matches)) check.fail(`REST: 200 without a matches array for ${target}`);
    }, { numRuns: 150, timeLimitMs: 4_000, examples: known });
  });

  it('Redis bus: arbitrary messages on the events and heartbeat channels', async () => {
    const known = [
      [{ channel: 'events' as const, message: 'null' }],
      [{ channel: 'heartbeat' as const, message: 'null' }],
      [{ channel: 'events' as const, message: '{"channel":"match_change","payload":"null"}' }],
      [{ channel: 'events' as const, message: `{"channel":"match_change","payload":"{\\"id\\":\\"1\\",\\"stream\\":\\"x\\",\\"seq\\":1,\\"type\\":\\"match_update\\",\\"data\\":{},\\"timestamp\\":\\"x\\"}"}` }],
    ];
    await fuzz(stack, 'redis-bus', fc.array(busMessage, { minLength: 1, maxLength: 6 }), async (messages, check) => {
      for (const { channel, message } of messages) {
        await stack.redis.publish(channel === 'events' ? REDIS_EVENTS_CHANNEL : REDIS_HEARTBEAT_CHANNEL, message);
      }
      await sleep(150);
      void check;
    }, { numRuns: 80, timeLimitMs: 7_000, examples: known });
  });

  it('Redis bus: garbage never wedges a stream (a real update still arrives)', async () => {
    await fuzz(stack, 'bus-wedge', fc.array(wedgeMessage, { minLength: 1, maxLength: 4 }), async (messages, check) => {
      const client = new RecordingClient(stack.gateway.wsUrl, [LIVE_STREAM]);
      try {
        await client.connect();
        for (const message of messages) await stack.redis.publish(REDIS_EVENTS_CHANNEL, message);
        await sleep(100);
        const seq = await stack.writeUpdate();
        const started = Date.now();
        const arrived = await waitFor('the real update', async () =>
          client.events().some((e) => e.stream === LIVE_STREAM && e.seq === seq) ? true : undefined, 4000, 20).catch(() => false);
        if (!arrived) {
          check.fail(`stream WEDGED: real update ${LIVE_STREAM}@${seq} not delivered within 4 s after bus messages ${short(messages, 600)}`);
          check.restart = true; // the next run must not inherit a wedged sequencer
        } else if (Date.now() - started > 1000) {
          check.fail(`stream STALLED: real update ${LIVE_STREAM}@${seq} took ${Date.now() - started} ms after bus messages ${short(messages, 600)}`);
          check.restart = true;
        }
      } finally {
        client.close();
      }
    }, { numRuns: 15, timeLimitMs: 8_000, examples: [[`{"channel":"scoreboard_change","payload":${JSON.stringify(`{"ref":true,"id":"1","stream":"${LIVE_STREAM}","seq":1e999}`)}}`]] });
  });

  it('afterwards: connections return to baseline and memory stays within +50 MB of baseline', async () => {
    expect(stack.alive()).toBe(true);
    const counted = await waitFor('connections back to 0', async () => ((await stack.connections()) === 0 ? 0 : undefined), 10_000, 100)
      .catch(async () => stack.connections());
    // GC pressure: benign allocation-heavy traffic, then a settle period.
    for (let i = 0; i < 30; i++) await rawRequest(stack.port, httpGet('/api/matches?limit=500'));
    await sleep(3000);
    const sample = stack.sample();
    const baseline = sample ? stack.baselines.get(sample.pid) : undefined;
    const restartedNote = stack.restarts.length > 0 ? ` (gateway restarted ${stack.restarts.length}× after crashes/wedges; baseline of pid ${sample?.pid})` : '';
    console.log(`[fuzz] connections ${counted}; RSS ${sample?.rssKb} kB vs baseline ${baseline} kB${restartedNote}`);
    expect({ connections: counted }).toEqual({ connections: 0 });
    expect(sample).toBeDefined();
    expect(baseline).toBeDefined();
    expect(sample!.rssKb - baseline!).toBeLessThanOrEqual(RSS_BOUND_KB);
  });

  it('afterwards: bus garbage leaves no endless work behind (no retry loops, idle CPU)', async () => {
    if (!stack.alive()) await stack.restart('dead before the quiescence check');
    const garbage = fc.sample(wedgeMessage, { seed: seedFor('quiet'), numRuns: 20 });
    for (const message of garbage) await stack.redis.publish(REDIS_EVENTS_CHANNEL, message);
    for (let i = 0; i < 3; i++) {
      await stack.redis.publish(REDIS_HEARTBEAT_CHANNEL, JSON.stringify({ listener_id: `fz-forged-${i}`, sent_at: Date.now(), published: 1, dropped: 0 }));
      await sleep(100);
    }
    await sleep(2500);
    const offset = stack.logOffset();
    const before = stack.sample();
    await sleep(3000);
    const after = stack.sample();
    const warnings = stack.gateway.logLines(offset).filter((line) => /"level":"(warn|error|fatal)"/.test(line));
    const cpuPercent = before && after ? after.cpuTicks - before.cpuTicks : NaN; // 100 ticks/s over 3 s → ticks/3 = %
    const problems: string[] = [];
    if (!stack.alive()) problems.push(`gateway CRASHED: ${stack.gateway.logTail(25, offset)}`);
    if (warnings.length > 0) {
      problems.push(`${warnings.length} warn/error log lines in a 3 s quiet window after bus garbage ${short(garbage, 400)}, e.g.:\n${warnings.slice(0, 3).join('\n')}`);
    }
    if (!(cpuPercent / 3 < 20)) problems.push(`gateway CPU ${(cpuPercent / 3).toFixed(0)}% of a core in a 3 s quiet window`);
    if (problems.length) console.error(`[fuzz] FUZZ_SEED=${BASE_SEED} quiescence:\n${problems.join('\n')}`);
    expect(problems).toEqual([]);
  });

  it('afterwards: a normal client still gets a real update end to end', async () => {
    const wasAlive = stack.alive();
    if (!wasAlive) await stack.restart('dead before the end-to-end check');
    const client = new RecordingClient(stack.gateway.wsUrl, [LIVE_STREAM, 'all']);
    try {
      await client.connect();
      const seq = await stack.writeUpdate();
      const arrived = await waitFor('the update on a subscribed WebSocket', async () =>
        client.events().some((e) => e.stream === LIVE_STREAM && e.seq === seq && e.channel === LIVE_STREAM) ? true : undefined, 5000, 20)
        .catch(() => false);
      if (!arrived) console.error(`[fuzz] FUZZ_SEED=${BASE_SEED}: ${LIVE_STREAM}@${seq} never arrived; received ${short(client.messages.slice(-10), 800)}`);
      expect({ gatewayAliveBefore: wasAlive, delivered: arrived }).toEqual({ gatewayAliveBefore: true, delivered: true });
    } finally {
      client.close();
    }
  });

  it('afterwards: no token the fuzz sent (in headers or query strings) appears in the gateway log', () => {
    const log = stack.gateway.logLines().join('\n');
    expect(issuedSignatures.size).toBeGreaterThan(0);
    expect([...issuedSignatures].filter((signature) => log.includes(signature))).toEqual([]);
  });
});
