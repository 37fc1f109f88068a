/**
 * One polite GET with Node's global fetch: conditional (If-None-Match / If-Modified-Since from
 * the last answer), bounded in time (AbortSignal.timeout, covering the body too) and in size
 * (the body is read in chunks and cut off past maxBodyBytes). Every failure becomes a
 * ProviderError with a stable code; nothing a provider sends escapes as another error.
 */
import { ProviderError } from '../../errors';

export interface Validators {
  etag?: string;
  lastModified?: string;
}

export interface FetchJsonOptions {
  headers: Record<string, string>;
  validators: Validators;
  timeoutMs: number;
  maxBodyBytes: number;
  /** Aborts the request when the source closes (then the result is undefined). */
  signal: AbortSignal;
}

export type FetchJsonResult =
  | { kind: 'modified'; body: unknown; headers: Headers; validators: Validators }
  | { kind: 'not_modified'; headers: Headers };

/** Longest wait a Retry-After may ask for; a larger one is clamped (a broken header must not park us for days). */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

export async function fetchJson(url: string, options: FetchJsonOptions): Promise<FetchJsonResult | undefined> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.validators.etag) headers['if-none-match'] = options.validators.etag;
  if (options.validators.lastModified) headers['if-modified-since'] = options.validators.lastModified;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  try {
    // No redirects: following one would carry the credential header to wherever it points.
    const response = await fetch(url, { headers, signal, redirect: 'error' });
    if (response.status === 304) {
      await response.body?.cancel();
      return { kind: 'not_modified', headers: response.headers };
    }
    if (!response.ok) {
      await response.body?.cancel();
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      const code = response.status === 429 ? 'PROVIDER_RATE_LIMITED' : 'PROVIDER_HTTP_ERROR';
      throw new ProviderError(code, `GET ${url} answered ${response.status}`, { status: response.status, retryAfterMs });
    }
    const text = await readCapped(response, options.maxBodyBytes, url);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new ProviderError('PROVIDER_MALFORMED_JSON', `GET ${url}: ${(error as Error).message}`, { status: response.status });
    }
    const validators: Validators = {
      etag: response.headers.get('etag') ?? undefined,
      lastModified: response.headers.get('last-modified') ?? undefined,
    };
    return { kind: 'modified', body, headers: response.headers, validators };
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    if (options.signal.aborted) return undefined;
    if (timeout.aborted) throw new ProviderError('PROVIDER_TIMEOUT', `GET ${url}: no answer within ${options.timeoutMs} ms`, {}, { cause: error });
    throw new ProviderError('PROVIDER_UNREACHABLE', `GET ${url}: ${describeCause(error)}`, {}, { cause: error });
  }
}

/** The body as text, refusing more than `max` bytes (announced or actually sent). */
async function readCapped(response: Response, max: number, url: string): Promise<string> {
  const tooLarge = () => new ProviderError('PROVIDER_BODY_TOO_LARGE', `GET ${url}: body larger than ${max} bytes`, { status: response.status });
  const announced = Number(response.headers.get('content-length'));
  if (Number.isFinite(announced) && announced > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
