/**
 * The optional import function (an isolated side that runs in AWS): a bundle uploaded under
 * `bundles/` of the inbox bucket is imported into the target Nexus (with earlier bundles
 * waiting in the inbox when its chain needs them), and its receipt written under
 * `FERRY_RECEIPTS_PREFIX` of the same bucket for ops to carry back. Invoked by hand with
 * `{"bucket", "bundles": [...], "allowGap": true}` it imports those bundles together out of
 * sequence (a bundle lost for good), as `ferry import --allow-gap` does.
 *
 * Deploy with reserved concurrency 1 (bundles apply in sequence order). Bundles are read
 * from S3 in ranges, never copied to /tmp: Lambda's default ephemeral storage is enough.
 */
import path from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { S3BundleInbox } from '../shared/adapters/aws/s3-inbox.ts';
import type { ImportReport } from '../shared/core/import/importer.ts';
import { importFromInbox, importGapFromInbox, type InboxImport } from '../shared/core/import/inbox.ts';
import { importEnvSchema, loadEnv, trustedPublicKeys } from './env.ts';
import { gapImportEventSchema, parseImportEvent, s3EventBridgeSchema, s3NotificationSchema } from './events.ts';
import { importPorts } from './import-wiring.ts';
import { IMPORT_METRICS } from './metrics.ts';
import { coreLog, once, powertools, s3Client } from './wiring.ts';
import { byCodeUnit } from '../shared/units.ts';

export { BundleChangedError } from '../shared/adapters/aws/errors.ts';

const env = loadEnv(importEnvSchema);
const { logger, metrics } = powertools();
const trustedKeys = trustedPublicKeys(env.FERRY_TRUSTED_PUBLIC_KEYS);

const wired = once(() => importPorts(env, trustedKeys, logger));

/** The objects an S3 notification (direct, or through EventBridge) names, under `bundles/…​.tar`, in name order. */
function bundlesIn(event: unknown): { bucket: string; key: string }[] {
  const direct = s3NotificationSchema.safeParse(event);
  const objects = direct.success
    ? direct.data.Records.filter((r) => r.eventName.startsWith('ObjectCreated')).map((r) => ({ bucket: r.s3.bucket.name, key: r.s3.object.key }))
    : (() => {
        const bridged = parseImportEvent(s3EventBridgeSchema, event, 'an S3 notification, direct or through EventBridge');
        return [{ bucket: bridged.detail.bucket.name, key: bridged.detail.object.key }];
      })();
  return objects
    .filter((o) => o.key.startsWith('bundles/') && o.key.endsWith('.tar'))
    .sort((a, b) => byCodeUnit(path.posix.basename(a.key), path.posix.basename(b.key)));
}

export interface ImportSummary {
  bundles: { key: string; status: ImportReport['status']; sequence: number; receipt?: string | undefined }[];
}

export async function handler(event: unknown, context: Context): Promise<ImportSummary> {
  logger.resetKeys();
  logger.addContext(context);
  const summary: ImportSummary = { bundles: [] };
  try {
    const { importer, receiptSigner } = await wired();
    const portsFor = (bucket: string) => ({ importer, inbox: new S3BundleInbox({ client: s3Client(), bucket, receiptsPrefix: env.FERRY_RECEIPTS_PREFIX }), receiptSigner, log: coreLog(logger) });
    const record = (imported: InboxImport[]) => {
      for (const { key: bundleKey, report, receipt } of imported) {
        const sequence = report.bundle.sequence;
        if (report.status === 'already-imported') {
          summary.bundles.push({ key: bundleKey, status: report.status, sequence });
          continue;
        }
        metrics.addMetric(IMPORT_METRICS.bundlesImported, MetricUnit.Count, 1);
        metrics.addMetric(IMPORT_METRICS.entriesImported, MetricUnit.Count, report.imported);
        summary.bundles.push({ key: bundleKey, status: report.status, sequence, receipt: receipt?.key });
      }
    };
    if (typeof event === 'object' && event !== null && 'allowGap' in event) {
      const gap = parseImportEvent(gapImportEventSchema, event, 'a manual import of bundles out of sequence');
      logger.warn('importing out of sequence, as asked', { bundles: gap.bundles });
      record(await importGapFromInbox(portsFor(gap.bucket), gap.bundles));
      return summary;
    }
    for (const { bucket, key } of bundlesIn(event)) record(await importFromInbox(portsFor(bucket), key));
    return summary;
  } catch (error) {
    // The invocation fails: S3's asynchronous invoke retries, then the failure destination.
    logger.error('import failed; nothing was written for this bundle unless it verified', { error: { name: (error as Error).name, message: (error as Error).message } });
    metrics.addMetric(IMPORT_METRICS.failures, MetricUnit.Count, 1);
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
