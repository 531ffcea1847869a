/**
 * The scheduled safety net: scan every configured repository for components changed since
 * its watermark and queue copy tasks. A scan that would outlive the Lambda stops at a page
 * boundary a minute before the timeout; its checkpoint (DynamoDB) names the next page and
 * the next scheduled invocation continues from there. Invoked with `{"reconcile": true}` (its
 * own, slower schedule) it runs the full reconcile of deletions instead (reconcile.ts); after
 * a scan, it runs the reconciles a PURGED event asked for.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { makeExporter } from '../shared/core/export/exporter.ts';
import { ExportError } from '../shared/core/export/errors.ts';
import { RECONCILE_METRICS, SCAN_LAG_MAX_METRIC, SCAN_LAG_METRIC, SCAN_METRICS } from './metrics.ts';
import { scanEnvSchema, loadEnv } from './env.ts';
import { eventBridgeSchema, type ReconcileEvent } from './events.ts';
import { isReconcileEvent, reconcileCarried, reconcileRequested, throwOnFailures, type ReconcileSummary } from './reconcile.ts';
import { activeDefinitions } from '../shared/config/definitions.ts';
import { definitionStore, exporterSettings, exportPorts, registriesFor } from './export-wiring.ts';
import { errorFields, once, powertools } from './wiring.ts';

const env = loadEnv(scanEnvSchema);
const { logger, metrics } = powertools();

/** Time kept in hand when deciding to stop after a page: enough to write the checkpoint and report. */
export const STOP_MARGIN_MS = 60_000;

const wired = once(async () => ({ ports: await exportPorts(env, logger), definitions: definitionStore(env), registries: registriesFor(env, logger) }));

/** The exporter for the repositories defined now: read at each scan, so a change by API counts from the next one. */
async function exporterNow() {
  const { ports, definitions, registries } = await wired();
  const repositories = activeDefinitions(await definitions.read());
  const settings = exporterSettings(env, repositories, { overlapSeconds: env.FERRY_OVERLAP_SECONDS });
  return { exporter: makeExporter({ ...ports, registryFor: await registries(repositories) }, settings), ports, settings };
}

export interface ScanSummary {
  /** Repositories reconciled after the scan because a PURGED event asked for it. */
  reconciled?: string[];
  repositories: { repository: string; via?: string; complete: boolean; resumed: boolean; pages: number; queued: number; watermark: string | undefined }[];
  failures: { repository: string; error: string }[];
}

/** Some repositories could not be scanned; the others' results stand. */
export class ScanFailedError extends ExportError {
  override readonly name = 'ScanFailedError';
}

/** A reconcile's metrics (its alarm counts failures) and its summary in the log. */
function recordReconcile(summary: ReconcileSummary): void {
  metrics.addMetric(RECONCILE_METRICS.tombstones, MetricUnit.Count, summary.reconciled.reduce((n, r) => n + r.staged, 0));
  metrics.addMetric(RECONCILE_METRICS.failures, MetricUnit.Count, summary.failures.length);
  metrics.addMetric(RECONCILE_METRICS.pathIndexIncomplete, MetricUnit.Count, summary.pathIndex?.complete === false ? 1 : 0);
  logger.info('reconcile of deletions finished', { ...summary });
}

export async function handler(event: ReconcileEvent, context: Context): Promise<ReconcileSummary>;
export async function handler(event: unknown, context: Context): Promise<ScanSummary>;
export async function handler(event: unknown, context: Context): Promise<ScanSummary | ReconcileSummary> {
  logger.resetKeys();
  logger.addContext(context);
  try {
    if (isReconcileEvent(event)) {
      logger.info('reconcile of deletions started');
      const { ports, settings } = await exporterNow();
      const summary = await reconcileCarried({ source: ports.source, state: ports.state, logger, shouldStop: () => context.getRemainingTimeInMillis() < STOP_MARGIN_MS }, settings.repositories);
      recordReconcile(summary);
      return throwOnFailures(summary);
    }
    // Scheduled (EventBridge) or invoked by hand with any payload: only the former is described.
    const scheduled = eventBridgeSchema.safeParse(event);
    logger.info('scan started', scheduled.success ? { trigger: scheduled.data['detail-type'], eventId: scheduled.data.id } : { trigger: 'direct' });
    const { exporter, ports, settings } = await exporterNow();
    const shouldStop = () => context.getRemainingTimeInMillis() < STOP_MARGIN_MS;
    const { results, failures } = await exporter.scan({ shouldStop });
    const requested = shouldStop() ? undefined : await reconcileRequested({ source: ports.source, state: ports.state, logger, shouldStop }, settings.repositories);
    if (requested !== undefined) recordReconcile(requested);
    const now = Date.now();
    let worstLag: number | undefined;
    for (const result of results) {
      if (!result.complete) {
        logger.warn(`scan of ${result.repository} is incomplete: the next invocation continues from its checkpoint`, { repository: result.repository, pages: result.pages, queued: result.queued });
      }
      metrics.addMetric(SCAN_METRICS.tasksQueued, MetricUnit.Count, result.queued);
      if (result.watermark !== undefined) {
        // One metric per configured repository: a dimension each, published on its own. A
        // group's members report under the group's name (its alarm takes the worst).
        const lag = Math.max(0, Math.round((now - Date.parse(result.watermark)) / 1000));
        worstLag = Math.max(worstLag ?? 0, lag);
        metrics.singleMetric().addDimension('repository', result.via ?? result.repository).addMetric(SCAN_LAG_METRIC, MetricUnit.Seconds, lag);
      }
    }
    if (worstLag !== undefined) metrics.addMetric(SCAN_LAG_MAX_METRIC, MetricUnit.Seconds, worstLag);
    metrics.addMetric(SCAN_METRICS.incomplete, MetricUnit.Count, results.filter((r) => !r.complete).length);
    metrics.addMetric(SCAN_METRICS.failures, MetricUnit.Count, failures.length);
    const summary: ScanSummary = {
      ...(requested !== undefined ? { reconciled: requested.reconciled.map((r) => r.repository) } : {}),
      repositories: results.map((r) => ({ repository: r.repository, ...(r.via !== undefined ? { via: r.via } : {}), complete: r.complete, resumed: r.resumed, pages: r.pages, queued: r.queued, watermark: r.watermark })),
      failures: failures.map((f) => ({ repository: f.repository, error: (f.error as Error).message })),
    };
    if (failures.length > 0) {
      for (const failure of failures) logger.error(`scan of ${failure.repository} failed`, { repository: failure.repository, ...errorFields(failure.error) });
      // Fail the invocation so it shows in Errors and alarms; the others' progress is kept.
      throw new ScanFailedError(`scan failed for ${failures.map((f) => f.repository).join(', ')}`);
    }
    logger.info('scan finished', { ...summary });
    return summary;
  } finally {
    metrics.publishStoredMetrics();
  }
}
