/**
 * Metric names that something outside the function relies on: the alarms in infra/ watch
 * them, so both sides take the name from here.
 */

/** Seconds since the watermark now in force, per repository (dimension `repository`). */
export const SCAN_LAG_METRIC = 'ScanLagSeconds';
