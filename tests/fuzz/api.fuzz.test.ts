/**
 * Property-based fuzzing of a REAL API process (real Postgres and Redis; users, an admin and a
 * service with real tokens): every route with generated path parameters, query strings,
 * bodies, content types and tokens — other users' ids, ids that do not exist, near-valid
 * bodies with every field's name and any value. After every batch the API must be alive and
 * answer /healthz; no answer may be a 5xx, every error must carry a documented code (the
 * catalog, read at run time), and afterwards a normal user's requests still work and memory is
 * back near its baseline. FUZZ_SEED, FUZZ_TIME_SCALE and FUZZ_REPORT_ALL as in
 * gateway.fuzz.test.ts.
 */
import fc from 'fast-check';
import { ApiFuzzStack, USERS, type UserName } from './support/api-stack';
import { pct } from './support/fuzz-stack';
import { BASE_SEED, Check, TIME_SCALE, fuzz, short, summaries } from './support/property';

jest.setTimeout(120_000);

/** Every route of docs/api.md; `{}` is a path parameter. */
const ROUTES: readonly [string, string][] = [
  ['GET', '/api/me'], ['GET', '/api/me/follows'], ['PUT', '/api/me/follows/{}/{}'], ['DELETE', '/api/me/follows/{}/{}'],
  ['GET', '/api/notifications'], ['GET', '/api/notifications/unread-count'], ['PATCH', '/api/notifications/{}/read'],
  ['POST', '/api/notifications/mark-all-read'], ['DELETE', '/api/notifications/{}'], ['POST', '/api/notifications'],
  ['GET', '/api/leagues/{}/table'], ['GET', '/api/leagues/{}/schedule'], ['GET', '/api/leagues/{}'], ['PATCH', '/api/leagues/{}'],
  ['GET', '/api/leagues/{}/members'], ['PUT', '/api/leagues/{}/members/{}'], ['DELETE', '/api/leagues/{}/members/{}'],
  ['POST', '/api/purchases'], ['GET', '/api/purchases/{}'], ['GET', '/api/me/purchases'], ['PATCH', '/api/purchases/{}'],
  ['POST', '/api/announcements'], ['GET', '/api/announcements'], ['GET', '/api/announcements/{}'], ['PATCH', '/api/announcements/{}'],
  ['DELETE', '/api/announcements/{}'], ['GET', '/api/admin/channels'], ['GET', '/api/admin/users/{}/connections'],
];

/** Every body field any route reads, and the query parameters any route takes. */
const FIELDS = ['user_ids', 'user_id', 'title', 'message', 'type', 'priority', 'match_id', 'team_id', 'league_id', 'data', 'expires_at',
  'starts_at', 'idempotency_key', 'quantity', 'status', 'private', 'target', 'target_id', '__proto__', 'constructor'];
const QUERY = ['limit', 'cursor', 'kind', 'target', 'target_id', 'unread', 'status', 'before', 'after'];

const stack = new ApiFuzzStack();
/** Answers by status, printed at the end: what share of the requests got past validation. */
const statuses = new Map<number, number>();

/** Path parameters: real ids (own and others'), kinds, and strings a router or a query may choke on. */
const param = (): fc.Arbitrary<{ raw: boolean; value: string }> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('alice', 'bob', 'team', 'ars', 'league', 'epl', 'cup', 'match', 'm1').map((value) => ({ raw: false, value })) },
    fc.constantFrom('alice', 'bob', 'boss', 'epl', 'cup', 'ars', 't1', 'm1', 'c1', 'team', 'league', 'match', '0', '-1', '1e999', 'NaN',
      '99999999999999999999', '00000000-0000-0000-0000-000000000000').map((value) => ({ raw: false, value })),
    fc.constantFrom('notification', 'purchase', 'announcement').map((kind) => ({ raw: false, value: stack.ids[kind as keyof typeof stack.ids] })),
    fc.string({ maxLength: 40 }).map((value) => ({ raw: false, value })),
    fc.string({ unit: 'binary', maxLength: 20 }).map((value) => ({ raw: false, value })),
    fc.constantFrom('%', '%zz', '%C0%80', '%00', '..', '%2e%2e', 'a%2Fb', '%FF%FE').map((value) => ({ raw: true, value })),
    fc.integer({ min: 100, max: 5000 }).map((length) => ({ raw: false, value: 'x'.repeat(length) })),
  );

/** A valid body per route: with one field replaced (or dropped), requests reach the database. */
const TEMPLATES: Record<string, Record<string, unknown>> = {
  'POST /api/notifications': { user_ids: ['alice', 'bob'], type: 'general', title: 'Goal', message: 'A goal', match_id: 'm1' },
  'POST /api/purchases': { match_id: 'm1', quantity: 1, idempotency_key: 'k1' },
  'POST /api/announcements': { target: 'league', target_id: 'epl', type: 'general', title: 'Kick-off', message: 'Soon' },
  'PATCH /api/announcements/{}': { title: 'Changed', priority: 'high' },
  'PATCH /api/leagues/{}': { private: true },
  'PATCH /api/purchases/{}': { status: 'paid' },
};

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 300 }), fc.constantFrom(
  'alice', 'bob', 'm1', 'c1', 'epl', 'cup', 'general', 'paid', 'refunded', 'cancelled', 'league', 'match', 'team', 'everyone', 1, 0, -1,
  1e308, 2 ** 31, true, null, ['alice', 'bob'], Array(300).fill('alice'), '2026-12-01T00:00:00Z', '+275760-09-13T00:00:00.000Z',
));

/** A route's template with one field replaced or dropped, any JSON, route fields with any values, or not JSON. */
const bodyFor = (route: string): fc.Arbitrary<string> => {
  const template = TEMPLATES[route];
  return fc.oneof(
    ...(template
      ? [{ weight: 4, arbitrary: fc.tuple(fc.constantFrom(...FIELDS, ...Object.keys(template)), fc.option(anyValue, { nil: undefined }))
          .map(([field, value]) => JSON.stringify({ ...template, [field]: value })) }]
      : []),
    { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), anyValue).map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
};

const request = fc.constantFrom(...ROUTES).chain((route) => fc.record({
  route: fc.constant(route),
  params: fc.array(param(), { minLength: 2, maxLength: 2 }),
  query: fc.option(fc.array(fc.tuple(fc.constantFrom(...QUERY), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('0', '-1', '1001', '1e3', 'true', 'team', 'league'))), { maxLength: 3 }), { nil: undefined }),
  body: fc.option(bodyFor(route.join(' ')), { nil: undefined, freq: 4 }),
  contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded'),
  user: fc.constantFrom<UserName | 'none' | 'garbage' | 'forged'>(...(Object.keys(USERS) as UserName[]), 'alice', 'bob', 'none', 'garbage', 'forged'),
}));
type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;

function target(spec: Request): string {
  let index = 0;
  const path = spec.route[1].replace(/\{\}/g, () => {
    const p = spec.params[index++]!;
    return p.raw ? p.value : pct(p.value);
  });
  const query = spec.query?.map(([name, value]) => `${name}=${pct(value)}`).join('&');
  return query ? `${path}?${query}` : path;
}

function authorization(spec: Request): Record<string, string> {
  switch (spec.user) {
    case 'none': return {};
    case 'garbage': return { authorization: 'Bearer not.a.token' };
    // Signed with another secret: a token the API must refuse.
    case 'forged': return { authorization: `Bearer ${stack.tokens.get('boss')!.replace(/\.[^.]+$/, '.AAAA')}` };
    default: return { authorization: `Bearer ${stack.tokens.get(spec.user)}` };
  }
}

async function send(spec: Request, check: Check): Promise<void> {
  const [method] = spec.route;
  // fetch sends no body with a GET (raw-HTTP bodies on GET are the gateway fuzz's).
  if (method === 'GET') spec = { ...spec, body: undefined };
  const input = short({ method, target: target(spec), user: spec.user, contentType: spec.contentType, body: spec.body }, 600);
  let res: Response;
  try {
    res = await fetch(`${stack.base}${target(spec)}`, {
      method,
      headers: { ...authorization(spec), ...(spec.body === undefined ? {} : { 'content-type': spec.contentType }) },
      body: spec.body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    return check.fail(`no answer (${(error as Error).message}) for ${input}`);
  }
  const text = await res.text();
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  if (res.status >= 500) return check.fail(`HTTP ${res.status} ${short(text)} for ${input}`);
  if (res.status === 204) return;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return check.fail(`HTTP ${res.status} answered with non-JSON ${short(text)} for ${input}`);
  }
  if (res.status >= 400) check.code(`HTTP ${res.status}`, (json as { error?: unknown } | null)?.error, input);
}

describe('fuzz: the API survives hostile input', () => {
  beforeAll(async () => {
    console.log(`[fuzz] FUZZ_SEED=${BASE_SEED} (replay: FUZZ_SEED=${BASE_SEED} pnpm exec jest tests/fuzz/api) time scale ${TIME_SCALE}`);
    await stack.start();
    stack.recordBaseline();
  }, 90_000);

  afterAll(async () => {
    const answers = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ');
    console.log(`[fuzz] API: ${summaries.join('\n  ')}\n  answers: ${answers}\n  restarts: ${stack.restarts.length}${stack.restarts.map((r) => `\n    ${r.at}: ${r.reason}`).join('')}`);
    await stack.destroy();
  }, 60_000);

  it('every route: path parameters, query strings, bodies, content types and tokens', async () => {
    await fuzz(stack, 'api-requests', fc.array(request, { minLength: 1, maxLength: 4 }), async (batch, check) => {
      for (const spec of batch) await send(spec, check);
    }, { numRuns: 300, timeLimitMs: 25_000 });
  });

  it('afterwards: alive without a restart, memory near its baseline, and a user\'s requests still work', async () => {
    expect(stack.restarts).toEqual([]);
    const sample = stack.sample()!;
    expect(sample.rssKb - stack.baselines.get(sample.pid)!).toBeLessThan(100 * 1024);
    const alice = { authorization: `Bearer ${stack.tokens.get('alice')}` };
    const follow = await fetch(`${stack.base}/api/me/follows/team/ars`, { method: 'PUT', headers: alice });
    expect([200, 201]).toContain(follow.status);
    const list = await fetch(`${stack.base}/api/notifications`, { headers: alice });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { notifications: unknown[] }).notifications.length).toBeGreaterThan(0);
  });
});
