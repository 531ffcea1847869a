/**
 * The export side's ports on AWS (webhook, scan, copy, seal): the source Nexus and its
 * registries, staged blobs and bundles in S3, tasks in SQS, state in DynamoDB.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { SqsTaskQueue } from '../shared/adapters/aws/sqs-task-queue.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { exporterSettingsOf } from '../shared/config/repositories.ts';
import type { ExporterPorts, ExporterSettings } from '../shared/core/export/exporter.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import type { Signer } from '../shared/signing.ts';
import type { DockerRepositoryEnv, ExportEnv } from './env.ts';
import { coreLog, documentClient, lazy, nexusClient, registryClients, s3Client, type SecretRef } from './wiring.ts';

const sqsClient = lazy(() => new SQSClient({}));

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
    store: new S3ObjectStore({ client: s3Client(), bucket: env.FERRY_BUCKET }),
    queue: new SqsTaskQueue({ client: sqsClient(), queueUrl: env.FERRY_QUEUE_URL }),
    state: new DynamoExportState({ client: documentClient(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID }),
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
