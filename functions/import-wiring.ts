/**
 * The import side's ports on AWS (the import function): the target Nexus and its
 * registries, held blobs in S3, state in DynamoDB, and a KMS key for receipts.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoImportState } from '../shared/adapters/aws/dynamo-import-state.ts';
import { KmsSigner } from '../shared/adapters/aws/kms-signer.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { makeImporter, type Importer } from '../shared/core/import/importer.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import type { Signer } from '../shared/signing.ts';
import type { ImportEnv } from './env.ts';
import { coreLog, documentClient, nexusClient, registryClients, s3Client, type SecretRef } from './wiring.ts';

/**
 * The importer on AWS: the target Nexus and its registries (`FERRY_REGISTRIES`), held blobs
 * in S3, state in DynamoDB; and the receipt signer when `FERRY_KMS_KEY_ID` names one.
 * `trustedKeys`: `FERRY_TRUSTED_PUBLIC_KEYS`, parsed at init so that a bad key fails the cold start.
 */
export async function importPorts(env: ImportEnv, trustedKeys: KeyObject[], logger: Logger): Promise<{ importer: Importer; receiptSigner: Signer | undefined }> {
  const targetSecret: SecretRef = { arn: env.FERRY_TARGET_SECRET_ARN, variable: 'FERRY_TARGET_SECRET_ARN' };
  const [target, receiptSigner, registries] = await Promise.all([
    nexusClient(env.FERRY_TARGET_URL, targetSecret, logger),
    env.FERRY_KMS_KEY_ID === undefined ? undefined : KmsSigner.create({ client: new KMSClient({}), keyId: env.FERRY_KMS_KEY_ID }),
    registryClients(Object.entries(env.FERRY_REGISTRIES), targetSecret, (name) => `FERRY_REGISTRIES[${JSON.stringify(name)}].secretArn`, logger),
  ]);
  const importer = makeImporter(
    {
      target,
      held: new S3ObjectStore({ client: s3Client(), bucket: env.FERRY_HELD_BUCKET }),
      state: new DynamoImportState({ client: documentClient(), table: env.FERRY_IMPORT_TABLE }),
      clock: systemClock,
      log: coreLog(logger),
      trustedKeys,
      registries: (repository) => {
        const registry = registries.get(repository);
        const endpoint = env.FERRY_REGISTRIES[repository]!;
        return registry && { key: endpoint.url, registry, uploadWhileVerifying: endpoint.uploadWhileVerifying };
      },
    },
    { repositoryMap: env.FERRY_REPOSITORY_MAP, concurrency: 4 },
  );
  return { importer, receiptSigner };
}
