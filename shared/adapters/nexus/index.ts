export { NexusClient, expectedChecksums, type NexusClientOptions } from './client.ts';
export {
  MissingChecksumError,
  NexusChecksumError,
  NexusError,
  NexusHttpError,
  NexusNetworkError,
  NexusResponseError,
  WebhookPayloadError,
  type NexusMessage,
} from './errors.ts';
export { backoffDelay, defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy } from './retry.ts';
export { normalizePath, normalizeTimestamp, type NexusAsset, type NexusComponent, type NexusRepository } from './schemas.ts';
