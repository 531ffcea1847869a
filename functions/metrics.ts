/**
 * Metric names that something outside the function relies on: the alarms and dashboards in
 * infra/ watch them, so both sides take the names from here.
 */

/** POWERTOOLS_METRICS_NAMESPACE of every Ferry function. */
export const METRICS_NAMESPACE = 'Ferry';

export type FerryFunctionName = 'webhook' | 'scan' | 'copy' | 'seal' | 'import' | 'definitions';

/** POWERTOOLS_SERVICE_NAME of a function: Powertools puts it in every metric's `service` dimension. */
export const serviceOf = (name: FerryFunctionName): string => `ferry-${name}`;

/** Seconds since the watermark now in force, per repository (dimension `repository`). */
export const SCAN_LAG_METRIC = 'ScanLagSeconds';

/**
 * The worst {@link SCAN_LAG_METRIC} of a scan run, without a repository dimension: one alarm
 * that covers every repository the definitions name at the time, those added through the
 * definitions API after the deploy too (the per-repository alarms exist for the seeded ones).
 */
export const SCAN_LAG_MAX_METRIC = 'ScanLagSecondsMax';

/** What the scan reports per invocation. */
export const SCAN_METRICS = { tasksQueued: 'ScanTasksQueued', incomplete: 'ScanIncomplete', failures: 'ScanFailures' } as const;

/**
 * What a reconcile of deletions reports per run: tombstones recorded, repositories that
 * failed, and whether the path index was still incomplete (nothing reconciled yet).
 */
export const RECONCILE_METRICS = { tombstones: 'ReconcileTombstones', failures: 'ReconcileFailures', pathIndexIncomplete: 'ReconcilePathIndexIncomplete' } as const;

/** What the webhook reports per delivery (besides `WebhookStatus<code>`). */
export const WEBHOOK_METRICS = { tasksQueued: 'WebhookTasksQueued' } as const;

/** What copy reports per task: done, failed, not a task at all, and the bytes it staged or found staged already. */
export const COPY_METRICS = {
  tasks: 'Tasks',
  taskFailures: 'TaskFailures',
  poisonMessages: 'PoisonMessages',
  bytesStaged: 'BytesStaged',
  bytesDeduplicated: 'BytesDeduplicated',
} as const;

/** What seal reports per invocation: each bundle's size, how many, and entries too big for any bundle. */
export const SEAL_METRICS = { bundleBytes: 'BundleBytes', bundlesSealed: 'BundlesSealed', oversizedEntries: 'OversizedEntries' } as const;

/** What the import function reports per invocation. */
export const IMPORT_METRICS = { bundlesImported: 'BundlesImported', entriesImported: 'EntriesImported', failures: 'ImportFailures' } as const;
