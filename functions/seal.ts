/**
 * Seals the pending entries into the next signed, chained bundles in S3 (`bundles/`), the
 * signature made by a KMS key (ECDSA P-256). Runs on a schedule, or when copy invokes it
 * early because enough bytes are pending.
 *
 * Deploy with reserved concurrency 1: two seals at once would both write the bundle with
 * the next sequence number, and only one can record it.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Context } from 'aws-lambda';
import { KmsSigner } from '../shared/adapters/aws/kms-signer.ts';
import { makeExporter } from '../shared/core/export/exporter.ts';
import { loadEnv, sealEnvSchema } from './env.ts';
import { eventBridgeSchema } from './events.ts';
import { exporterSettings, exportPorts } from './export-wiring.ts';
import { SEAL_METRICS } from './metrics.ts';
import { once, powertools } from './wiring.ts';

const env = loadEnv(sealEnvSchema);
const { logger, metrics } = powertools();

const wired = once(async () => {
  const signer = await KmsSigner.create({ client: new KMSClient({}), keyId: env.FERRY_KMS_KEY_ID });
  const ports = await exportPorts(env, logger, { signer, readsSource: false });
  // Sealing reads pending entries, never the carried repositories.
  return makeExporter(ports, exporterSettings(env, [], { maxBundleBytes: env.FERRY_MAX_BUNDLE_BYTES }));
});

export interface SealSummary {
  bundles: { name: string; location: string; sequence: number; digest: string; size: number; entries: number }[];
  oversized: string[];
}

export async function handler(event: unknown, context: Context): Promise<SealSummary> {
  logger.resetKeys();
  logger.addContext(context);
  try {
    const scheduled = eventBridgeSchema.safeParse(event);
    logger.info('seal started', scheduled.success ? { trigger: scheduled.data['detail-type'] } : { trigger: (event as { trigger?: unknown } | null)?.trigger ?? 'direct' });
    const exporter = await wired();
    const result = await exporter.seal();
    for (const bundle of result.republished) logger.warn(`published ${bundle.name}, recorded by an interrupted seal`, { bundle: bundle.name, location: bundle.location, digest: bundle.digest });
    for (const bundle of result.bundles) {
      const location = bundle.location;
      logger.info(`sealed ${bundle.name}`, {
        bundle: bundle.name,
        location,
        sequence: bundle.sequence,
        digest: bundle.digest,
        size: bundle.size,
        entries: bundle.entries,
        blobsIncluded: bundle.blobsIncluded,
        blobsRequired: bundle.blobsRequired,
      });
      metrics.addMetric(SEAL_METRICS.bundleBytes, MetricUnit.Bytes, bundle.size);
    }
    metrics.addMetric(SEAL_METRICS.bundlesSealed, MetricUnit.Count, result.bundles.length);
    metrics.addMetric(SEAL_METRICS.oversizedEntries, MetricUnit.Count, result.oversized.length);
    if (result.bundles.length === 0) logger.info('nothing pending to seal');
    return {
      bundles: result.bundles.map((b) => ({ name: b.name, location: b.location, sequence: b.sequence, digest: b.digest, size: b.size, entries: b.entries })),
      oversized: result.oversized.map((e) => e.message),
    };
  } finally {
    metrics.publishStoredMetrics();
  }
}
