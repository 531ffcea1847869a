/**
 * What every Lambda shares: Powertools logger and metrics, SDK clients (endpoints from the
 * SDK's own `AWS_ENDPOINT_URL_<SERVICE>` variables, so tests point them at emulators without
 * code here), secrets through Powertools Parameters, and the Nexus and registry clients.
 * The ports of each side are built in export-wiring.ts and import-wiring.ts. Handlers stay
 * thin: parse, wire, call the core.
 *
 * A bundle loads every AWS SDK package its modules import (the SDK is the runtime's, not
 * bundled: infra/lambda-bundling.ts), used or not, so a client only some functions talk to
 * is made in the module of those functions, not here.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Secrets } from '../shared/adapters/aws/secrets.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import type { Log, LogFields } from '../shared/core/log.ts';

// ───────────────────────────── observability ─────────────────────────────

/** Logger (JSON, service from POWERTOOLS_SERVICE_NAME) and metrics (EMF, namespace from env). */
export function powertools(): { logger: Logger; metrics: Metrics } {
  return { logger: new Logger(), metrics: new Metrics() };
}

/** The core's narrow Log over a Powertools Logger. */
export function coreLog(logger: Logger): Log {
  const at = (level: 'info' | 'warn' | 'error' | 'debug') => (message: string, fields?: LogFields) =>
    fields === undefined ? logger[level](message) : logger[level](message, fields);
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

/** An error as log fields: name and message (which by convention never hold credentials). */
export function errorFields(error: unknown): { error: { name: string; message: string; cause?: string } } {
  if (!(error instanceof Error)) return { error: { name: 'Error', message: String(error) } };
  const cause = error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : undefined;
  return { error: { name: error.name, message: error.message, ...(cause !== undefined ? { cause } : {}) } };
}

// ───────────────────────────── clients and secrets ─────────────────────────────

/** Made on first use: a function builds only the clients it talks to. */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export const dynamoClient = lazy(() => new DynamoDBClient({}));
export const s3Client = lazy(() => new S3Client({}));
/** DynamoDB through the document client (plain values), as the state adapters use it. */
export const documentClient = lazy(() => DynamoDBDocumentClient.from(dynamoClient(), { marshallOptions: { removeUndefinedValues: true } }));

/** Secrets Manager values through Powertools Parameters, each reused for `SECRET_MAX_AGE_SECONDS` (shared/adapters/aws/secrets.ts). */
export const secrets = lazy(() => new Secrets({ client: new SecretsManagerClient({}) }));

/**
 * Memoises an async initialisation for the life of the execution environment (a cold
 * start pays for it once). A failure is not cached: the next invocation tries again.
 */
export function once<T>(init: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= init().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** A secret as the environment names it: the ARN, and the variable errors name. */
export interface SecretRef {
  arn: string | undefined;
  variable: string;
}

const logRetries = (logger: Logger) => (r: { path: string; delayMs: number; attempt: number; reason: string }) =>
  logger.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`);

/** A Nexus client whose retries are logged; credentials from the secret, if any. */
export async function nexusClient(url: string, secret: SecretRef, logger: Logger): Promise<NexusClient> {
  const credentials = await secrets().credentials(secret.arn, secret.variable);
  return new NexusClient({ baseUrl: url, ...(credentials ?? {}), onRetry: logRetries(logger) });
}

/**
 * Registry clients by repository, each with the credentials of its endpoint's own secret
 * (named in errors by `variableOf(repository)`) or else of `fallback` (the side's Nexus secret).
 */
export async function registryClients(
  endpoints: Iterable<[string, { url: string; secretArn?: string | undefined }]>,
  fallback: SecretRef,
  variableOf: (repository: string) => string,
  logger: Logger,
): Promise<Map<string, RegistryClient>> {
  const registries = new Map<string, RegistryClient>();
  for (const [repository, { url, secretArn }] of endpoints) {
    const secret = secretArn ? { arn: secretArn, variable: variableOf(repository) } : fallback;
    const credentials = await secrets().credentials(secret.arn, secret.variable);
    registries.set(repository, new RegistryClient({ baseUrl: url, ...(credentials ?? {}), onRetry: logRetries(logger) }));
  }
  return registries;
}
