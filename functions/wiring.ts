/**
 * What every Lambda shares: Powertools logger and metrics, SDK clients (endpoints from the
 * SDK's own `AWS_ENDPOINT_URL_<SERVICE>` variables, so tests point them at emulators without
 * code here), secrets through Powertools Parameters, and the ports of each side built from
 * the environment contract. Handlers stay thin: parse, wire (here), call the core.
 */
import type { KeyObject } from 'node:crypto';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { DynamoImportState } from '../shared/adapters/aws/dynamo-import-state.ts';
import { KmsSigner } from '../shared/adapters/aws/kms-signer.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { Secrets } from '../shared/adapters/aws/secrets.ts';
import { SqsTaskQueue } from '../shared/adapters/aws/sqs-task-queue.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import { exporterSettingsOf } from '../shared/config/repositories.ts';
import type { ExporterPorts, ExporterSettings } from '../shared/core/export/exporter.ts';
import { makeImporter, type Importer } from '../shared/core/import/importer.ts';
import type { Log, LogFields } from '../shared/core/log.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import type { Signer } from '../shared/signing.ts';
import type { DockerRepositoryEnv, ExportEnv, ImportEnv } from './env.ts';

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
  kms: lazy(() => new KMSClient({})),
  lambda: lazy(() => new LambdaClient({})),
};

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
interface SecretRef {
  arn: string | undefined;
  variable: string;
}

const logRetries = (logger: Logger) => (r: { path: string; delayMs: number; attempt: number; reason: string }) =>
  logger.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`);

/** A Nexus client whose retries are logged; credentials from the secret, if any. */
async function nexusClient(url: string, secret: SecretRef, logger: Logger): Promise<NexusClient> {
  const credentials = await secrets().credentials(secret.arn, secret.variable);
  return new NexusClient({ baseUrl: url, ...(credentials ?? {}), onRetry: logRetries(logger) });
}

/**
 * Registry clients by repository, each with the credentials of its endpoint's own secret
 * (named in errors by `variableOf(repository)`) or else of `fallback` (the side's Nexus secret).
 */
async function registryClients(
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

// ───────────────────────────── export side ─────────────────────────────

/** For functions that never seal: the exporter's signer port, refusing to be used. */
export const noSigner: Signer = {
  keyId: 'none',
  algorithm: 'ecdsa-p256-sha256',
  sign: async () => {
    throw new Error('this function does not seal bundles: no signing key is wired');
  },
};

/** The export side's Nexus secret. */
const nexusSecret = (env: ExportEnv): SecretRef => ({ arn: env.FERRY_NEXUS_SECRET_ARN, variable: 'FERRY_NEXUS_SECRET_ARN' });

/**
 * The exporter's ports on AWS. `signer` only for the seal function. `readsSource: false`
 * (seal) skips the Nexus credentials: sealing never talks to Nexus; `readsRegistries: false`
 * (the webhook, seal) skips the registries and their secrets.
 */
export async function exportPorts(
  env: ExportEnv,
  logger: Logger,
  options: { signer?: Signer; readsSource?: boolean; readsRegistries?: boolean } = {},
): Promise<ExporterPorts & { source: NexusClient }> {
  const { readsSource = true, readsRegistries = readsSource } = options;
  return {
    source: readsSource ? await nexusClient(env.FERRY_NEXUS_URL, nexusSecret(env), logger) : new NexusClient({ baseUrl: env.FERRY_NEXUS_URL }),
    store: new S3ObjectStore({ client: clients.s3(), bucket: env.FERRY_BUCKET }),
    queue: new SqsTaskQueue({ client: clients.sqs(), queueUrl: env.FERRY_QUEUE_URL }),
    state: new DynamoExportState({ client: clients.documents(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID }),
    clock: systemClock,
    log: coreLog(logger),
    signer: options.signer ?? noSigner,
    registryFor: readsRegistries ? await registryFor(env, logger) : undefined,
  };
}

/** The registry of each docker repository, credentials from its own secret (or Nexus's); undefined without docker repositories. */
async function registryFor(env: ExportEnv, logger: Logger): Promise<ExporterPorts['registryFor']> {
  const docker = env.FERRY_REPOSITORIES.filter((r): r is DockerRepositoryEnv => r.format === 'docker');
  if (docker.length === 0) return undefined;
  const endpoints = docker.map((r): [string, DockerRepositoryEnv['registry']] => [r.name, r.registry]);
  const registries = await registryClients(endpoints, nexusSecret(env), (name) => `FERRY_REPOSITORIES[${name}].registry.secretArn`, logger);
  return (name) => {
    const client = registries.get(name);
    if (client === undefined) throw new Error(`no registry is configured for docker repository ${name} (FERRY_REPOSITORIES)`);
    return client;
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

// ───────────────────────────── import side ─────────────────────────────

/**
 * The importer on AWS: the target Nexus and its registries (`FERRY_REGISTRIES`), held blobs
 * in S3, state in DynamoDB; and the receipt signer when `FERRY_KMS_KEY_ID` names one.
 * `trustedKeys`: `FERRY_TRUSTED_PUBLIC_KEYS`, parsed at init so that a bad key fails the cold start.
 */
export async function importPorts(env: ImportEnv, trustedKeys: KeyObject[], logger: Logger): Promise<{ importer: Importer; receiptSigner: Signer | undefined }> {
  const targetSecret: SecretRef = { arn: env.FERRY_TARGET_SECRET_ARN, variable: 'FERRY_TARGET_SECRET_ARN' };
  const [target, receiptSigner, registries] = await Promise.all([
    nexusClient(env.FERRY_TARGET_URL, targetSecret, logger),
    env.FERRY_KMS_KEY_ID === undefined ? undefined : KmsSigner.create({ client: clients.kms(), keyId: env.FERRY_KMS_KEY_ID }),
    registryClients(Object.entries(env.FERRY_REGISTRIES), targetSecret, (name) => `FERRY_REGISTRIES[${JSON.stringify(name)}].secretArn`, logger),
  ]);
  const importer = makeImporter(
    {
      target,
      held: new S3ObjectStore({ client: clients.s3(), bucket: env.FERRY_HELD_BUCKET }),
      state: new DynamoImportState({ client: clients.documents(), table: env.FERRY_IMPORT_TABLE }),
      clock: systemClock,
      log: coreLog(logger),
      trustedKeys,
      registries: (repository) => {
        const registry = registries.get(repository);
        return registry && { key: env.FERRY_REGISTRIES[repository]!.url, registry };
      },
    },
    { repositoryMap: env.FERRY_REPOSITORY_MAP, concurrency: 4 },
  );
  return { importer, receiptSigner };
}
