/**
 * A seal on the serverless adapters (S3 + DynamoDB, here the emulators) as its own process,
 * so a test can SIGKILL it at a fault point (FERRY_FAULT_POINT) and run it again. Prints the
 * seal result as one JSON line. Configured by environment variables (FERRY_TEST_*).
 */
import { readFile } from 'node:fs/promises';
import { DynamoExportState } from '../../shared/adapters/aws/dynamo-export-state.ts';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.ts';
import { silentLog } from '../../shared/core/log.ts';
import { sealPending } from '../../shared/core/export/seal.ts';
import { systemClock } from '../../shared/core/ports/index.ts';
import { localSigner } from '../../shared/signing.ts';
import { createPrivateKey } from 'node:crypto';
import { makeDynamoClient, makeS3Client } from './emulators.ts';

const need = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`seal-child: ${name} is not set`);
  return value;
};

const s3 = makeS3Client(need('FERRY_TEST_AWS_ENDPOINT'));
const dynamo = makeDynamoClient(need('FERRY_TEST_DYNAMO_ENDPOINT'));
const sourceId = need('FERRY_TEST_SOURCE_ID');
const result = await sealPending(
  {
    store: new S3ObjectStore({ client: s3, bucket: need('FERRY_TEST_BUCKET') }),
    state: new DynamoExportState({ client: dynamo, table: need('FERRY_TEST_TABLE'), sourceId }),
    clock: systemClock,
    log: silentLog,
    sourceId,
    signer: localSigner(createPrivateKey(await readFile(need('FERRY_TEST_KEY_FILE')))),
  },
  { maxBytes: 64 * 1024 * 1024 },
);
process.stdout.write(`${JSON.stringify({ bundles: result.bundles.map((b) => b.name), republished: result.republished.map((b) => b.name) })}\n`);
s3.destroy();
dynamo.destroy();
