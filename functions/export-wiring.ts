/**
 * The export side's ports on AWS (webhook, scan, copy, seal): the source Nexus and its
 * registries, staged blobs and bundles in S3, tasks in SQS, state in DynamoDB. The carried
 * repositories are the sync definitions in the state table, read once per invocation (one
 * consistent GetItem), so a change made by API takes effect at the next scan and webhook.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDefinitionStore } from '../shared/adapters/aws/dynamo-definitions.ts';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { SqsTaskQueue } from '../shared/adapters/aws/sqs-task-queue.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import type { RegistryClient } from '../shared/adapters/registry/index.ts';
import type { RepositoryDefinition } from '../shared/config/definitions.ts';
import { exporterSettingsOf } from '../shared/config/repositories.ts';
import type { ExporterPorts, ExporterSettings } from '../shared/core/export/exporter.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import type { Signer } from '../shared/signing.ts';
import type { ExportEnv } from './env.ts';
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
 * The exporter's ports on AWS, registries aside (they follow the definitions: see
 * {@link registriesFor}). `signer` only for the seal function. `readsSource: false` (seal)
 * skips the Nexus credentials: sealing never talks to Nexus.
 */
export async function exportPorts(env: ExportEnv, logger: Logger, options: { signer?: Signer; readsSource?: boolean } = {}): Promise<ExporterPorts & { source: NexusClient }> {
  const { readsSource = true } = options;
  return {
    source: readsSource ? await nexusClient(env.FERRY_NEXUS_URL, nexusSecret(env), logger) : new NexusClient({ baseUrl: env.FERRY_NEXUS_URL }),
    store: new S3ObjectStore({ client: s3Client(), bucket: env.FERRY_BUCKET }),
    queue: new SqsTaskQueue({ client: sqsClient(), queueUrl: env.FERRY_QUEUE_URL }),
    state: new DynamoExportState({ client: documentClient(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID }),
    clock: systemClock,
    log: coreLog(logger),
    signer: options.signer ?? noSigner,
  };
}

/** The sync definitions of this source, in the state table (seeded at deploy, changed by API). */
export function definitionStore(env: Pick<ExportEnv, 'FERRY_TABLE' | 'FERRY_SOURCE_ID'>): DynamoDefinitionStore {
  return new DynamoDefinitionStore({ client: documentClient(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID });
}

/**
 * The registry of each docker repository among the definitions given, credentials from its
 * own secret (or Nexus's); undefined without docker repositories. A client is made once per
 * repository and endpoint and kept while the definition stays the same.
 */
export function registriesFor(env: ExportEnv, logger: Logger): (repositories: readonly RepositoryDefinition[]) => Promise<ExporterPorts['registryFor']> {
  const made = new Map<string, RegistryClient>();
  return async (repositories) => {
    const docker = repositories.filter((r): r is Extract<RepositoryDefinition, { format: 'docker' }> => r.format === 'docker');
    if (docker.length === 0) return undefined;
    const clients = new Map<string, RegistryClient>();
    for (const r of docker) {
      const key = JSON.stringify([r.name, r.registry.url, r.registry.secretArn]);
      let client = made.get(key);
      if (client === undefined) {
        client = (await registryClients([[r.name, r.registry]], nexusSecret(env), (name) => `the definition of ${name}: registry.secretArn`, logger)).get(r.name)!;
        made.set(key, client);
      }
      clients.set(r.name, client);
    }
    return (name) => {
      const client = clients.get(name);
      if (client === undefined) throw new Error(`no registry is defined for docker repository ${name} (sync definitions)`);
      return client;
    };
  };
}

/** The exporter's settings for these repositories: the one mapping every entry point uses. */
export function exporterSettings(env: ExportEnv, repositories: readonly RepositoryDefinition[], extra: { overlapSeconds?: number; maxBundleBytes?: number } = {}): ExporterSettings {
  return exporterSettingsOf(env.FERRY_SOURCE_ID, repositories, extra);
}
