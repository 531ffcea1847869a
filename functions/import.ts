/**
 * The optional import function (an isolated side that runs in AWS): a bundle uploaded under
 * `bundles/` of the inbox bucket is downloaded to ephemeral storage (the importer reads it
 * twice: verify everything, then apply), imported into the target Nexus, and its receipt
 * written under `FERRY_RECEIPTS_PREFIX` of the same bucket for ops to carry back.
 *
 * Deploy with reserved concurrency 1 (bundles apply in sequence order) and ephemeral
 * storage larger than the biggest bundle (up to 10 GiB).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { parse } from '@aws-lambda-powertools/parser';
import { S3EventNotificationEventBridgeSchema, S3Schema } from '@aws-lambda-powertools/parser/schemas';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { DynamoImportState } from '../shared/adapters/aws/dynamo-import-state.ts';
import { KmsSigner } from '../shared/adapters/aws/kms-signer.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { bundleFileName } from '../shared/bundle/index.ts';
import { BundleRefusedError, SequenceError } from '../shared/core/import/errors.ts';
import { makeImporter, type Importer, type ImportReport } from '../shared/core/import/importer.ts';
import type { TargetRegistry } from '../shared/core/formats/docker/apply.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import { encodeReceipt } from '../shared/core/receipts/codec.ts';
import { algorithmOf, type Signer } from '../shared/signing.ts';
import { importEnvSchema, loadEnv, EnvError } from './env.ts';
import { clients, coreLog, nexusClient, once, powertools, registryClient } from './wiring.ts';
import { writeFileStream } from '../shared/file-streams.ts';

const env = loadEnv(importEnvSchema);
const { logger, metrics } = powertools();

/** Splits concatenated PEM public keys; each must be ed25519 or ECDSA P-256. */
function trustedKeys(pem: string): KeyObject[] {
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  return blocks.map((block, index) => {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: block, format: 'pem' });
    } catch {
      throw new EnvError('FERRY_TRUSTED_PUBLIC_KEYS', `key ${index + 1} is not a PEM public key`);
    }
    if (algorithmOf(key) === undefined) throw new EnvError('FERRY_TRUSTED_PUBLIC_KEYS', `key ${index + 1} is neither ed25519 nor ECDSA P-256`);
    return key;
  });
}
const keys = trustedKeys(env.FERRY_TRUSTED_PUBLIC_KEYS);

/** Bundle target repository → repository on this Nexus (absent: the same name). */
const repositoryMap = env.FERRY_REPOSITORY_MAP;

/** Registry clients for the target's docker repositories (`FERRY_REGISTRIES`), credentials from their secrets. */
async function targetRegistries(): Promise<Map<string, TargetRegistry>> {
  const registries = new Map<string, TargetRegistry>();
  for (const [repository, endpoint] of Object.entries(env.FERRY_REGISTRIES)) {
    const own = endpoint.secretArn;
    const secret = own ? { arn: own, variable: `FERRY_REGISTRIES[${JSON.stringify(repository)}].secretArn` } : { arn: env.FERRY_TARGET_SECRET_ARN, variable: 'FERRY_TARGET_SECRET_ARN' };
    registries.set(repository, { key: endpoint.url, registry: await registryClient(endpoint.url, secret, logger) });
  }
  return registries;
}

const wired = once(async () => {
  const [target, receiptSigner, registries] = await Promise.all([
    nexusClient(env.FERRY_TARGET_URL, env.FERRY_TARGET_SECRET_ARN, 'FERRY_TARGET_SECRET_ARN', logger),
    env.FERRY_KMS_KEY_ID === undefined ? Promise.resolve(undefined) : KmsSigner.create({ client: clients.kms(), keyId: env.FERRY_KMS_KEY_ID }),
    targetRegistries(),
  ]);
  const importer = makeImporter(
    {
      target,
      held: new S3ObjectStore({ client: clients.s3(), bucket: env.FERRY_HELD_BUCKET }),
      state: new DynamoImportState({ client: clients.documents(), table: env.FERRY_IMPORT_TABLE }),
      clock: systemClock,
      log: coreLog(logger),
      trustedKeys: keys,
      registries: (repository) => registries.get(repository),
    },
    { repositoryMap, concurrency: 4 },
  );
  return { importer, receiptSigner };
});

/** The bundle would not fit in this function's ephemeral storage. */
export class EphemeralStorageError extends Error {
  override readonly name = 'EphemeralStorageError';
}

interface BundleObject {
  bucket: string;
  key: string;
}

/** The objects an S3 notification (direct, or through EventBridge) names, under `bundles/…​.tar`. */
function bundlesIn(event: unknown): BundleObject[] {
  const direct = parse(event, undefined, S3Schema, true);
  const objects = direct.success
    ? direct.data.Records.filter((r) => r.eventName.startsWith('ObjectCreated')).map((r) => ({ bucket: r.s3.bucket.name, key: r.s3.object.key }))
    : (() => {
        const bridged = parse(event, undefined, S3EventNotificationEventBridgeSchema, false);
        return [{ bucket: bridged.detail.bucket.name, key: bridged.detail.object.key }];
      })();
  return objects
    .filter((o) => o.key.startsWith('bundles/') && o.key.endsWith('.tar'))
    .sort((a, b) => path.posix.basename(a.key).localeCompare(path.posix.basename(b.key)));
}

/** Streams the object to a file in ephemeral storage after checking it fits. */
async function download(object: BundleObject, dir: string): Promise<string> {
  const got = await clients.s3().send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }));
  const body = got.Body as Readable | undefined;
  if (body === undefined) throw new Error(`s3://${object.bucket}/${object.key}: GetObject returned no body`);
  const free = await statfs(dir).then((s) => s.bavail * s.bsize);
  if (got.ContentLength !== undefined && got.ContentLength > free) {
    body.destroy();
    throw new EphemeralStorageError(
      `s3://${object.bucket}/${object.key}: ${got.ContentLength} bytes do not fit in the ${free} bytes free in ${dir}; raise the function's ephemeral storage (10 GiB at most) or seal smaller bundles`,
    );
  }
  const file = path.join(dir, path.posix.basename(object.key));
  await pipeline(body, writeFileStream(file));
  return file;
}

/**
 * Imports one bundle from the inbox. When its chain needs earlier bundles that are waiting
 * in the inbox (one refused for want of blobs that this one re-sends), they are imported
 * together, in order. A refusal for want of blobs leaves a signed resend request beside the
 * receipts.
 */
async function importObject(importer: Importer, receiptSigner: Signer | undefined, object: BundleObject, dir: string): Promise<{ key: string; report: ImportReport }[]> {
  let batch = [object];
  const downloaded = new Map<string, string>();
  for (;;) {
    const files: { key: string; name: string; file: string }[] = [];
    for (const o of batch) {
      if (!downloaded.has(o.key)) downloaded.set(o.key, await download(o, dir));
      files.push({ key: o.key, name: path.posix.basename(o.key), file: downloaded.get(o.key)! });
    }
    try {
      const reports = await importer.importBundles(files.map((f) => ({ name: f.name, open: async () => createReadStream(f.file) })));
      return reports.map((report) => ({ key: files.find((f) => f.name === report.bundle.name)!.key, report }));
    } catch (error) {
      const earlier = batch.length === 1 && error instanceof SequenceError ? await waitingPredecessors(object, error.missingSequence) : undefined;
      if (earlier !== undefined) {
        logger.info(`${path.posix.basename(object.key)}: importing it together with ${earlier.length} earlier bundle(s) waiting in the inbox`);
        batch = [...earlier, object];
        continue;
      }
      if (error instanceof BundleRefusedError && error.resendRequest !== undefined) {
        const key = `${env.FERRY_RECEIPTS_PREFIX}${error.bundle.replace(/\.tar$/, '')}.resend-request.json`;
        await clients.s3().send(
          new PutObjectCommand({ Bucket: object.bucket, Key: key, Body: await encodeReceipt(error.resendRequest, receiptSigner), ContentType: 'application/json' }),
        );
        logger.error(`${error.bundle}: refused for want of ${error.missing.length} blob(s); wrote the resend request s3://${object.bucket}/${key} for ops to carry back`, { bundle: error.bundle });
      }
      throw error;
    }
  }
}

/** The inbox objects of sequences `from` up to the object's own, or undefined unless all are there. */
async function waitingPredecessors(object: BundleObject, from: number | undefined): Promise<BundleObject[] | undefined> {
  const match = /^(.+)-(\d{8})\.tar$/.exec(path.posix.basename(object.key));
  if (match === null || from === undefined) return undefined;
  const [, sourceId, sequence] = match as unknown as [string, string, string];
  const keys = [];
  for (let n = from; n < Number(sequence); n++) keys.push(`${path.posix.dirname(object.key)}/${bundleFileName(sourceId, n)}`);
  for (const key of keys) {
    const there = await clients
      .s3()
      .send(new HeadObjectCommand({ Bucket: object.bucket, Key: key }))
      .then(() => true)
      .catch(() => false);
    if (!there) return undefined;
  }
  return keys.map((key) => ({ bucket: object.bucket, key }));
}

export interface ImportSummary {
  bundles: { key: string; status: ImportReport['status']; sequence: number; receipt?: string | undefined }[];
}

export async function handler(event: unknown, context: Context): Promise<ImportSummary> {
  logger.resetKeys();
  logger.addContext(context);
  const summary: ImportSummary = { bundles: [] };
  try {
    const objects = bundlesIn(event);
    const { importer, receiptSigner } = await wired();
    for (const object of objects) {
      const dir = await mkdtemp(path.join(tmpdir(), 'ferry-import-'));
      try {
        for (const { key, report } of await importObject(importer, receiptSigner, object, dir)) {
          const name = report.bundle.name;
          if (report.status === 'already-imported') {
            logger.info(`${name}: already imported; nothing changed`, { bundle: name, sequence: report.bundle.sequence, importedAt: report.importedAt });
            summary.bundles.push({ key, status: report.status, sequence: report.bundle.sequence });
            continue;
          }
          const receiptKey = `${env.FERRY_RECEIPTS_PREFIX}${name.replace(/\.tar$/, '')}.receipt.json`;
          await clients.s3().send(
            new PutObjectCommand({ Bucket: object.bucket, Key: receiptKey, Body: await encodeReceipt(report.receipt, receiptSigner), ContentType: 'application/json' }),
          );
          logger.info(`${name}: imported sequence ${report.bundle.sequence}`, {
            bundle: name,
            sequence: report.bundle.sequence,
            imported: report.imported,
            present: report.present,
            receipt: `s3://${object.bucket}/${receiptKey}`,
          });
          metrics.addMetric('BundlesImported', MetricUnit.Count, 1);
          metrics.addMetric('EntriesImported', MetricUnit.Count, report.imported);
          summary.bundles.push({ key, status: report.status, sequence: report.bundle.sequence, receipt: receiptKey });
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    return summary;
  } catch (error) {
    // The invocation fails: S3's asynchronous invoke retries, then the failure destination.
    logger.error('import failed; nothing was written for this bundle unless it verified', { error: { name: (error as Error).name, message: (error as Error).message } });
    metrics.addMetric('ImportFailures', MetricUnit.Count, 1);
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
