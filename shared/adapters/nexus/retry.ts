/**
 * Which Nexus failures are worth another attempt. The loop itself and the transient
 * network codes are shared with the registry client (shared/http/retry.ts).
 */
import { TRANSIENT_CODES, type RetryVerdict } from '../../http/retry.ts';
import { NexusHttpError, NexusNetworkError } from './errors.ts';

export { backoffDelay, defaultRetryPolicy, errorCode, parseRetryAfter, TRANSIENT_CODES, withRetry } from '../../http/retry.ts';
export type { RetryInfo, RetryPolicy, RetryVerdict } from '../../http/retry.ts';

/**
 * Upload (POST, not idempotent) failures after which Nexus cannot have stored anything, or
 * that Nexus answers before processing (429, and gateway statuses from a proxy in front).
 * A headers timeout is not here: Nexus may be busy storing the asset.
 */
const UPLOAD_SAFE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const UPLOAD_SAFE_STATUSES = new Set([429, 502, 503, 504]);

export function classifyRead(error: unknown): RetryVerdict {
  if (error instanceof NexusHttpError) {
    const { status } = error;
    if (status >= 500 || status === 408 || status === 429) {
      return { retry: true, reason: `HTTP ${status}`, retryAfterMs: error.retryAfterMs };
    }
    return { retry: false };
  }
  if (error instanceof NexusNetworkError && error.code !== undefined && TRANSIENT_CODES.has(error.code)) {
    return { retry: true, reason: error.code };
  }
  return { retry: false };
}

export function classifyUpload(error: unknown): RetryVerdict {
  if (error instanceof NexusHttpError && UPLOAD_SAFE_STATUSES.has(error.status)) {
    return { retry: true, reason: `HTTP ${error.status}`, retryAfterMs: error.retryAfterMs };
  }
  if (error instanceof NexusNetworkError && error.code !== undefined && UPLOAD_SAFE_CODES.has(error.code)) {
    return { retry: true, reason: error.code };
  }
  return { retry: false };
}

