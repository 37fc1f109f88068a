/**
 * Seeded, bounded fast-check runs against a live service (the gateway, the API).
 *
 * - One base seed per suite: FUZZ_SEED from the environment, or a fresh one that is printed.
 *   Each property derives its own seed from it and its name, so one FUZZ_SEED replays all.
 * - Every run is one batch of generated input; after it the service must still be alive and
 *   answer /healthz 200. A crash is reported with the end of the service's log (the stack),
 *   and the service is restarted so the next run (and shrinking) starts from a live process.
 * - Bounded: numRuns and a time limit per property (FUZZ_TIME_SCALE multiplies both limits).
 * - FUZZ_REPORT_ALL=1: record every violating run (to LOG_DIR/fuzz-violations.jsonl and the
 *   console) instead of stopping at the first; the property still fails at the end.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ErrorCodes } from '@matchcast/protocol';
import { LOG_DIR } from '../../harness/stack';
import type { ProcessUnderFuzz } from './process-under-fuzz';

export const BASE_SEED: number = (() => {
  const raw = process.env.FUZZ_SEED;
  if (raw !== undefined && raw.trim() !== '') {
    const seed = Number(raw);
    if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(raw)}`);
    return seed | 0;
  }
  return (Math.random() * 0x7fffffff) | 0;
})();

export const TIME_SCALE = Math.max(0.1, Number(process.env.FUZZ_TIME_SCALE ?? '1') || 1);
export const REPORT_ALL = process.env.FUZZ_REPORT_ALL === '1';
export const VIOLATIONS_FILE = join(LOG_DIR, 'fuzz-violations.jsonl');

/** The catalog, read at run time: codes added to ErrorCodes later are accepted automatically. */
export const CATALOG_CODES: ReadonlySet<string> = new Set(Object.keys(ErrorCodes));
/** WebSocket close codes a client may see: the catalog's, plus what ws itself uses. */
export const ALLOWED_CLOSE_CODES: ReadonlySet<number> = new Set([
  ...Object.values(ErrorCodes).map((entry) => (entry as { close: number }).close),
  1000, 1002, 1006, 1009,
]);
/** Codes that mean "the server failed", never an acceptable answer to client or bus input. */
export const SERVER_FAULT_CODES: ReadonlySet<string> = new Set(['INTERNAL']);

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h | 0;
}

export const seedFor = (name: string): number => (BASE_SEED ^ hash(name)) | 0;

/** Problems found during one run. */
export class Check {
  readonly problems: string[] = [];
  /** Restart the service after this run even if it is alive (state a later run must not inherit). */
  restart = false;

  fail(problem: string): void {
    if (!this.problems.includes(problem)) this.problems.push(problem);
  }

  /** An error code the server sent (WS error message, SSE error event, HTTP JSON body). */
  code(where: string, code: unknown, input: string): void {
    if (typeof code !== 'string' || !CATALOG_CODES.has(code)) {
      this.fail(`${where}: undocumented error code ${JSON.stringify(code)} for ${input}`);
    } else if (SERVER_FAULT_CODES.has(code)) {
      this.fail(`${where}: server fault ${code} for client/bus input ${input}`);
    }
  }

  closeCode(where: string, code: number, reason: string, input: string): void {
    if (!ALLOWED_CLOSE_CODES.has(code)) this.fail(`${where}: undocumented close code ${code} (${reason}) for ${input}`);
    if (code === 1011) this.fail(`${where}: close 1011 (internal error) for ${input}`);
  }
}

export const short = (value: unknown, max = 300): string => {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
};

export interface FuzzOptions<T> {
  numRuns: number;
  timeLimitMs: number;
  /** Always tried first, whatever the seed: the known-nasty inputs. */
  examples?: T[];
}

/** Per-property summary, printed at the end of the suite. */
export const summaries: string[] = [];

/**
 * Runs `body` for generated values; after each run checks the service is alive and healthy.
 * Throws (failing the jest test) with the seed, replay command and fast-check's counterexample.
 */
export async function fuzz<T>(
  stack: ProcessUnderFuzz,
  name: string,
  arbitrary: fc.Arbitrary<T>,
  body: (value: T, check: Check) => Promise<void>,
  options: FuzzOptions<T>,
): Promise<void> {
  const seed = seedFor(name);
  const started = Date.now();
  let runs = 0;
  let violating = 0;
  const allProblems = new Set<string>();

  // The time limit is enforced here, not by fast-check's interrupt plugin, which can return
  // while a run is still in flight (that run would then overlap the next property). Past the
  // deadline every run and shrink candidate passes at once: fast-check finishes immediately,
  // keeping the smallest counterexample found so far.
  const deadline = started + Math.round(options.timeLimitMs * TIME_SCALE);
  const property = fc.asyncProperty(arbitrary, async (value) => {
    if (Date.now() > deadline) return true;
    runs++;
    if (!stack.alive()) await stack.restart(`dead before a run of "${name}"`);
    const offset = stack.logOffset();
    const check = new Check();
    try {
      await body(value, check);
    } catch (error) {
      check.fail(`harness error: ${(error as Error).stack ?? String(error)}`);
    }
    await stack.settleExit(50);
    const health = stack.alive() ? await stack.healthz() : 'process gone';
    // A refused /healthz usually means the process is on its way out: wait for the exit and
    // for its last stderr (the stack) to reach the log.
    await stack.settleExit(health === 200 ? 0 : 1500);
    if (!stack.alive()) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      check.fail(`${stack.name} CRASHED (${stack.exitDescription()}); log since the batch:\n${stack.service.logTail(25, offset)}`);
    } else if (health !== 200) {
      check.fail(`/healthz answered ${health} after the batch; log since the batch:\n${stack.service.logTail(25, offset)}`);
    }
    if (!stack.alive() || health !== 200 || check.restart) {
      await stack.restart(`after a run of "${name}": ${check.problems[0]?.split('\n')[0] ?? 'requested'}`);
    }
    if (check.problems.length === 0) return true;
    violating++;
    for (const problem of check.problems) allProblems.add(problem.split('\n')[0]!);
    if (REPORT_ALL) {
      const record = { property: name, seed: BASE_SEED, input: short(value, 2000), problems: check.problems };
      appendFileSync(VIOLATIONS_FILE, `${JSON.stringify(record)}\n`);
      console.warn(`[fuzz] ${name}: input ${short(value, 500)}\n  ${check.problems.join('\n  ')}`);
      return true;
    }
    throw new Error(check.problems.join('\n'));
  });

  const parameters: fc.Parameters<[T]> = {
    seed,
    numRuns: Math.max(1, Math.round(options.numRuns * TIME_SCALE)),
    examples: (options.examples ?? []).map((example) => [example] as [T]),
  } as fc.Parameters<[T]>;
  // -t takes the jest test's name (the property's name is not in it).
  const testName = expect.getState().currentTestName ?? name;
  const replay = `FUZZ_SEED=${BASE_SEED} pnpm exec jest tests/fuzz -t '${testName.replace(/'/g, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`;
  try {
    await fc.assert(property, parameters);
  } catch (error) {
    // fast-check 4 keeps the property's own error as `cause`: show it (the violations).
    const cause = (error as { cause?: unknown }).cause;
    const why = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
    const message = `fuzz property "${name}" FAILED (base seed ${BASE_SEED}, property seed ${seed}).\n` +
      `Replay: ${replay}\nLog dir: ${LOG_DIR}\n\n${(error as Error).message}${why ? `\n\nViolations of the counterexample:\n${why}` : ''}`;
    summaries.push(`${name}: FAILED after ${runs} runs in ${Date.now() - started} ms`);
    console.error(message);
    throw new Error(message);
  } finally {
    if (!summaries.some((line) => line.startsWith(`${name}:`))) {
      summaries.push(`${name}: ${runs} runs in ${Date.now() - started} ms, ${violating} violating`);
    }
  }
  if (REPORT_ALL && violating > 0) {
    throw new Error(
      `fuzz property "${name}": ${violating}/${runs} runs violated (base seed ${BASE_SEED}; replay: ${replay}); ` +
        `details in ${VIOLATIONS_FILE}. Distinct problems:\n${[...allProblems].join('\n')}`,
    );
  }
}
