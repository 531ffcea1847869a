/**
 * A small retry loop. undici's RetryAgent was considered and not used: its backoff has no
 * jitter (many workers retrying in lockstep against one server), it resumes downloads with
 * `Range` (the verifying hash must see every byte from the start, and `consume` must run
 * again), and it cannot replay a streamed upload body. Here each attempt is a whole request.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

/** How the caller judges a failed attempt. */
export type RetryVerdict =
  | { retry: false }
  | { retry: true; reason: string; retryAfterMs?: number | undefined };

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

/** Full jitter: uniform in [0, min(max, base · 2^(attempt-1))]. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/**
 * Parses `Retry-After`: delta-seconds or an HTTP-date. Returns milliseconds from `now`
 * (never negative), or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Runs `attempt` until it succeeds, `classify` says the failure is final, or the attempts
 * run out; then the last error is thrown as is.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (attemptNumber: number) => Promise<T>,
  classify: (error: unknown) => RetryVerdict,
  onRetry?: (info: RetryInfo) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const verdict = classify(error);
      if (!verdict.retry || n >= policy.maxAttempts) throw error;
      const delayMs =
        verdict.retryAfterMs !== undefined
          ? Math.min(verdict.retryAfterMs, policy.maxRetryAfterMs)
          : backoffDelay(policy, n);
      onRetry?.({ attempt: n, delayMs, reason: verdict.reason });
      await sleep(delayMs);
    }
  }
}

// ───────────────────────────── what is transient ─────────────────────────────

/** Failures worth another attempt for reads: the network let us down, not the request. */
export const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** The first error code found on the error, its causes, or an AggregateError's members. */
export function errorCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = errorCode(inner, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return errorCode((error as { cause?: unknown }).cause, depth + 1);
}
