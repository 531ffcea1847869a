/**
 * What every Lambda shares: Powertools logger and metrics, SDK clients (endpoints from the
 * SDK's own `AWS_ENDPOINT_URL_<SERVICE>` variables, so tests point them at emulators without
 * code here), secrets fetched once per cold start, and the export side's ports built from
 * the environment contract. Handlers stay thin: parse, wire (here), call the core.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { SqsTaskQueue } from '../shared/adapters/aws/sqs-task-queue.ts';
import type { ExporterPorts, ExporterSettings } from '../shared/core/export/exporter.ts';
import type { Log, LogFields } from '../shared/core/log.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import type { Signer } from '../shared/signing.ts';
import type { DockerRepositoryEnv, ExportEnv } from './env.ts';
import { exporterSettingsOf, imageSettingsOf } from '../shared/config/repositories.ts';

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

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const dynamo = lazy(() => new DynamoDBClient({}));

export const clients = {
  s3: lazy(() => new S3Client({})),
  sqs: lazy(() => new SQSClient({})),
  dynamo,
  documents: lazy(() => DynamoDBDocumentClient.from(dynamo(), { marshallOptions: { removeUndefinedValues: true } })),
  secrets: lazy(() => new SecretsManagerClient({})),
  kms: lazy(() => new KMSClient({})),
};

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

/** A secret's value could not be fetched or is not what the contract says. Names the variable. */
export class SecretError extends Error {
  override readonly name = 'SecretError';
  constructor(variable: string, problem: string, options?: { cause?: unknown }) {
    super(`secret named by ${variable}: ${problem}`, options);
  }
}

const secretCache = new Map<string, Promise<string>>();

/** The SecretString of a secret, fetched once per cold start. The value is never logged. */
export function secretString(arn: string, variable: string): Promise<string> {
  const cached = secretCache.get(arn);
  if (cached !== undefined) return cached;
  const pending: Promise<string> = clients
      .secrets()
      .send(new GetSecretValueCommand({ SecretId: arn }))
      .then(
        (out) => {
          if (typeof out.SecretString !== 'string' || out.SecretString === '') throw new SecretError(variable, 'has no SecretString');
          return out.SecretString;
        },
        (error: unknown) => {
          throw new SecretError(variable, `could not be read (${(error as Error).name})`, { cause: error });
        },
      );
  pending.catch(() => secretCache.delete(arn));
  secretCache.set(arn, pending);
  return pending;
}

const credentialsSchema = z.object({ username: z.string().min(1), password: z.string() });

/** `{"username","password"}` from Secrets Manager; undefined (anonymous) when no ARN is set. */
export async function nexusCredentials(arn: string | undefined, variable: string): Promise<{ username: string; password: string } | undefined> {
  if (arn === undefined) return undefined;
  const text = await secretString(arn, variable);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SecretError(variable, 'is not JSON {"username","password"}');
  }
  const parsed = credentialsSchema.safeParse(json);
  // Only the field name: the value may be (part of) the credentials.
  if (!parsed.success) throw new SecretError(variable, `${String(parsed.error.issues[0]?.path[0] ?? '(root)')}: required string`);
  return parsed.data;
}

/** A registry client whose retries are logged; credentials from the secret (`variable` names it in errors), if any. */
export async function registryClient(url: string, secret: { arn: string | undefined; variable: string }, logger: Logger): Promise<RegistryClient> {
  const credentials = await nexusCredentials(secret.arn, secret.variable);
  return new RegistryClient({
    baseUrl: url,
    ...(credentials ?? {}),
    onRetry: (r) => logger.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`),
  });
}

/** A Nexus client whose retries are logged; credentials from the secret, if any. */
export async function nexusClient(url: string, secretArn: string | undefined, variable: string, logger: Logger): Promise<NexusClient> {
  const credentials = await nexusCredentials(secretArn, variable);
  return new NexusClient({
    baseUrl: url,
    ...(credentials ?? {}),
    onRetry: (r) => logger.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`),
  });
}

// ───────────────────────────── export side ─────────────────────────────

/** For functions that never seal: the exporter's signer port, refusing to be used. */
export const noSigner: Signer = {
  keyId: 'none',
  algorithm: 'ecdsa-p256-sha256',
  sign: async () => {
    throw new Error('this function does not seal bundles: no signing key is wired');
  },
};

/**
 * The exporter's ports on AWS. `signer` only for the seal function; `readsSource: false`
 * (seal) skips the Nexus credentials: sealing never talks to Nexus.
 */
export async function exportPorts(
  env: ExportEnv,
  logger: Logger,
  options: { signer?: Signer; readsSource?: boolean } = {},
): Promise<ExporterPorts & { source: NexusClient }> {
  const readsSource = options.readsSource ?? true;
  return {
    source: readsSource
      ? await nexusClient(env.FERRY_NEXUS_URL, env.FERRY_NEXUS_SECRET_ARN, 'FERRY_NEXUS_SECRET_ARN', logger)
      : new NexusClient({ baseUrl: env.FERRY_NEXUS_URL }),
    store: new S3ObjectStore({ client: clients.s3(), bucket: env.FERRY_BUCKET }),
    queue: new SqsTaskQueue({ client: clients.sqs(), queueUrl: env.FERRY_QUEUE_URL }),
    state: new DynamoExportState({ client: clients.documents(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID }),
    clock: systemClock,
    log: coreLog(logger),
    signer: options.signer ?? noSigner,
    // Sealing talks to no registry: no registry secrets for it to read.
    images: readsSource ? await imagePorts(env, logger) : undefined,
  };
}

/** Registry clients for the docker repositories, credentials from their secrets (or Nexus's). */
async function imagePorts(env: ExportEnv, logger: Logger): Promise<ExporterPorts['images']> {
  const docker = env.FERRY_REPOSITORIES.filter((r): r is DockerRepositoryEnv => r.format === 'docker');
  if (docker.length === 0) return undefined;
  const registries = new Map<string, RegistryClient>();
  for (const repository of docker) {
    const own = repository.registry.secretArn;
    const secret = own ? { arn: own, variable: `FERRY_REPOSITORIES[${repository.name}].registry.secretArn` } : { arn: env.FERRY_NEXUS_SECRET_ARN, variable: 'FERRY_NEXUS_SECRET_ARN' };
    registries.set(repository.name, await registryClient(repository.registry.url, secret, logger));
  }
  const settings = new Map(docker.map((r) => [r.name, imageSettingsOf(r)]));
  return {
    registryFor: (name) => {
      const client = registries.get(name);
      if (client === undefined) throw new Error(`no registry is configured for docker repository ${name} (FERRY_REPOSITORIES)`);
      return client;
    },
    settingsFor: (name) => settings.get(name) ?? { filter: {}, referrers: true },
  };
}

/** The exporter's settings from the environment: the one mapping every entry point uses. */
export function exporterSettings(env: ExportEnv, extra: { overlapSeconds?: number; maxBundleBytes?: number } = {}): ExporterSettings {
  return exporterSettingsOf(env.FERRY_SOURCE_ID, env.FERRY_REPOSITORIES, extra);
}

/**
 * A Powertools idempotency store on `table` (partition key `id`, TTL attribute
 * `expiration`). One per idempotent function: a store keeps the first key prefix it is
 * configured with, and the prefix keeps e.g. a webhook's task keys apart from copy's.
 */
export function idempotencyStore(table: string): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: clients.dynamo() });
}
