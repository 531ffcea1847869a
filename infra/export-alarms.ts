/**
 * The export side's alarms: failed copy tasks, a stuck copy, a failed reconcile of
 * deletions, and a scan that has fallen behind (or stopped) for any repository.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, RECONCILE_METRICS, SCAN_LAG_MAX_METRIC, SCAN_LAG_METRIC, serviceOf } from '../functions/metrics.ts';
import type { RepositoryConfig } from './common.ts';
import type { ExportSettings } from './export-construct.ts';
import type { ExportQueues } from './export-storage.ts';

/** The queue alarms, the reconcile's, the worst scan lag's, then one scan-lag alarm per repository, in that order. */
export function exportAlarms(ferry: Construct & ExportQueues, sourceId: string, repositories: RepositoryConfig[], settings: ExportSettings): Alarm[] {
  return [
    new Alarm(ferry, 'DeadLetterDepth', {
      alarmDescription: `Ferry ${sourceId}: copy tasks failed 5 times and wait in the dead-letter queue; they are not in any bundle yet.`,
      metric: ferry.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
    new Alarm(ferry, 'OldestTaskAge', {
      alarmDescription: `Ferry ${sourceId}: the oldest copy task has waited too long; copy is stuck or throttled.`,
      metric: ferry.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: settings.oldestTaskAlarmSeconds,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
    // Always there: which repositories carry deletions is managed at run time (definitions).
    new Alarm(ferry, 'ReconcileFailures', {
      alarmDescription: `Ferry ${sourceId}: the reconcile of deletions failed for a repository; deletions on the source since the last good run are not carried yet.`,
      metric: new Metric({ namespace: METRICS_NAMESPACE, metricName: RECONCILE_METRICS.failures, dimensionsMap: { service: serviceOf('scan') }, period: Duration.hours(1), statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
    new Alarm(ferry, 'ScanLagAny', {
      alarmDescription: `Ferry ${sourceId}: some repository has not been scanned up to date recently (ScanLagSecondsMax high or missing), those added through the definitions API included.`,
      metric: new Metric({ namespace: METRICS_NAMESPACE, metricName: SCAN_LAG_MAX_METRIC, dimensionsMap: { service: serviceOf('scan') }, period: Duration.minutes(15), statistic: 'Maximum' }),
      threshold: settings.scanLagAlarmSeconds,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.BREACHING,
    }),
    // One per repository: the scan reports each repository's lag under its own dimension.
    ...repositories.map((repository) => scanLagAlarm(ferry, sourceId, repository.name, settings.scanLagAlarmSeconds)),
  ];
}

/** Alarms when `ScanLagSeconds` of one repository is over `thresholdSeconds`, or missing. */
function scanLagAlarm(scope: Construct, sourceId: string, repository: string, thresholdSeconds: number): Alarm {
  return new Alarm(scope, `ScanLag-${repository}`, {
    alarmDescription: `Ferry ${sourceId}: ${repository} has not been scanned up to date recently (ScanLagSeconds high or missing); new components may not be found.`,
    metric: new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: SCAN_LAG_METRIC,
      dimensionsMap: { service: serviceOf('scan'), repository },
      period: Duration.minutes(15),
      statistic: 'Maximum',
    }),
    threshold: thresholdSeconds,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    // No data points means the scan is not running at all: that is the lag we alarm on.
    treatMissingData: TreatMissingData.BREACHING,
  });
}
