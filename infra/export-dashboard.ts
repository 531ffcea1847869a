/**
 * The export side's CloudWatch dashboard: is work flowing (tasks copied and failed, bytes
 * staged), is anything stuck (dead-letter depth, oldest task, scan lag per repository), and
 * what the bundles come to (their sizes against the cap). One screen, read top to bottom.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import { AlarmStatusWidget, Dashboard, GraphWidget, SingleValueWidget, type Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { COPY_METRICS, SCAN_LAG_METRIC, SCAN_METRICS, SEAL_METRICS, WEBHOOK_METRICS } from '../functions/metrics.ts';
import type { RepositoryConfig } from './common.ts';
import { DASHBOARD_PERIOD, ferryMetric, functionHealthWidgets } from './dashboard-metrics.ts';
import type { ExportSettings } from './export-construct.ts';
import type { ExportFunctions } from './export-functions.ts';
import type { ExportQueues } from './export-storage.ts';

/** What the dashboard reads from the `FerryExport` construct it is made on. */
export interface ExportDashboardParts extends ExportQueues {
  functions: ExportFunctions;
  alarms: Alarm[];
}

/** CloudWatch dashboard names allow letters, digits, `-` and `_`; a source id may also hold `.`. */
export const exportDashboardName = (sourceId: string) => `Ferry-${sourceId.replace(/[^A-Za-z0-9_-]/g, '-')}-export`;

export function exportDashboard(ferry: Construct & ExportDashboardParts, sourceId: string, repositories: RepositoryConfig[], settings: ExportSettings): Dashboard {
  const dashboard = new Dashboard(ferry, 'Dashboard', { dashboardName: exportDashboardName(sourceId), defaultInterval: Duration.days(1) });
  dashboard.addWidgets(...headline(ferry));
  dashboard.addWidgets(...copyWidgets());
  dashboard.addWidgets(...queueWidgets(ferry, settings));
  dashboard.addWidgets(...scanWidgets(repositories, settings));
  dashboard.addWidgets(...bundleWidgets(settings));
  dashboard.addWidgets(...functionHealthWidgets(ferry.functions, 6));
  dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: ferry.alarms, width: 24, height: 3 }));
  new CfnOutput(ferry, 'DashboardName', { value: dashboard.dashboardName, description: 'CloudWatch dashboard of this export side' });
  return dashboard;
}

/** The numbers to look at first: what waits in the DLQ, how old the oldest task is, what crossed in the time shown. */
function headline(ferry: ExportQueues): SingleValueWidget[] {
  return [
    new SingleValueWidget({
      title: 'Now',
      width: 12,
      height: 4,
      metrics: [
        ferry.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Tasks in the dead-letter queue' }),
        ferry.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Tasks waiting' }),
        ferry.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Oldest task (s)' }),
      ],
    }),
    new SingleValueWidget({
      title: 'In the time range shown',
      width: 12,
      height: 4,
      setPeriodToTimeRange: true,
      metrics: [
        ferryMetric('copy', COPY_METRICS.tasks, { statistic: 'Sum', label: 'Tasks copied' }),
        ferryMetric('copy', COPY_METRICS.taskFailures, { statistic: 'Sum', label: 'Task failures' }),
        ferryMetric('copy', COPY_METRICS.bytesStaged, { statistic: 'Sum', label: 'Bytes staged' }),
        ferryMetric('seal', SEAL_METRICS.bundlesSealed, { statistic: 'Sum', label: 'Bundles sealed' }),
      ],
    }),
  ];
}

/** Copy: tasks done and failed (a poison message is not a task at all), and the bytes behind them. */
function copyWidgets(): GraphWidget[] {
  return [
    new GraphWidget({
      title: 'Copy tasks',
      width: 12,
      height: 6,
      left: [
        ferryMetric('copy', COPY_METRICS.tasks, { statistic: 'Sum', label: 'Copied' }),
        ferryMetric('copy', COPY_METRICS.taskFailures, { statistic: 'Sum', label: 'Failed (SQS redelivers)' }),
        ferryMetric('copy', COPY_METRICS.poisonMessages, { statistic: 'Sum', label: 'Not a task (poison)' }),
      ],
    }),
    new GraphWidget({
      title: 'Bytes copied',
      width: 12,
      height: 6,
      stacked: true,
      left: [
        ferryMetric('copy', COPY_METRICS.bytesStaged, { statistic: 'Sum', label: 'Staged (new)' }),
        ferryMetric('copy', COPY_METRICS.bytesDeduplicated, { statistic: 'Sum', label: 'Deduplicated (already staged)' }),
      ],
    }),
  ];
}

/** The task queue: its depth and the dead-letter queue's, and the oldest task's age against its alarm. */
function queueWidgets(ferry: ExportQueues, settings: ExportSettings): GraphWidget[] {
  return [
    new GraphWidget({
      title: 'Task queue depth',
      width: 12,
      height: 6,
      left: [
        ferry.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Waiting' }),
        ferry.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'In flight' }),
        ferry.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Dead-letter queue' }),
      ],
    }),
    new GraphWidget({
      title: 'Oldest task age (s)',
      width: 12,
      height: 6,
      left: [ferry.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Oldest task' })],
      leftAnnotations: [{ value: settings.oldestTaskAlarmSeconds, label: 'alarm' }],
    }),
  ];
}

/** Scan lag per repository against its alarm (a line that stops means the scan stopped), and where tasks come from. */
function scanWidgets(repositories: RepositoryConfig[], settings: ExportSettings): GraphWidget[] {
  return [
    new GraphWidget({
      title: 'Scan lag per repository (s)',
      width: 12,
      height: 6,
      left: repositories.map((r) => ferryMetric('scan', SCAN_LAG_METRIC, { statistic: 'Maximum', label: r.name, dimensions: { repository: r.name }, period: Duration.minutes(15) })),
      leftAnnotations: [{ value: settings.scanLagAlarmSeconds, label: 'alarm' }],
    }),
    new GraphWidget({
      title: 'Tasks queued',
      width: 12,
      height: 6,
      left: [
        ferryMetric('webhook', WEBHOOK_METRICS.tasksQueued, { statistic: 'Sum', label: 'By webhook' }),
        ferryMetric('scan', SCAN_METRICS.tasksQueued, { statistic: 'Sum', label: 'By scan' }),
      ],
      right: [
        ferryMetric('scan', SCAN_METRICS.failures, { statistic: 'Sum', label: 'Scan failures' }),
        ferryMetric('scan', SCAN_METRICS.incomplete, { statistic: 'Sum', label: 'Scans continued next time' }),
      ],
    }),
  ];
}

/** Bundle sizes against the cap (the media), and how many were sealed. */
function bundleWidgets(settings: ExportSettings): GraphWidget[] {
  const hour = Duration.hours(1);
  return [
    new GraphWidget({
      title: 'Bundle size (bytes)',
      width: 12,
      height: 6,
      left: [
        ferryMetric('seal', SEAL_METRICS.bundleBytes, { statistic: 'Maximum', label: 'Largest', period: hour }),
        ferryMetric('seal', SEAL_METRICS.bundleBytes, { statistic: 'Average', label: 'Average', period: hour }),
      ],
      leftAnnotations: [{ value: settings.maxBundleBytes, label: 'maxBundleBytes' }],
    }),
    new GraphWidget({
      title: 'Bundles sealed',
      width: 12,
      height: 6,
      left: [ferryMetric('seal', SEAL_METRICS.bundlesSealed, { statistic: 'Sum', label: 'Sealed', period: hour })],
      right: [ferryMetric('seal', SEAL_METRICS.oversizedEntries, { statistic: 'Sum', label: 'Entries over the cap (not sealed)', period: hour })],
    }),
  ];
}
