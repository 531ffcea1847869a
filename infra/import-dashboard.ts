/**
 * The import side's CloudWatch dashboard: what was imported, what failed (the function's
 * own count, and invocations parked in the failed-imports queue), and how near an import
 * came to the function's 15-minute timeout, the size limit that matters here.
 */
import { CfnOutput, Duration } from 'aws-cdk-lib';
import { AlarmStatusWidget, Dashboard, GraphWidget, SingleValueWidget, type Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { IMPORT_METRICS } from '../functions/metrics.ts';
import { DASHBOARD_PERIOD, ferryMetric, functionHealthWidgets } from './dashboard-metrics.ts';

/** What the dashboard reads from the `FerryImport` construct it is made on. */
export interface ImportDashboardParts {
  importFunction: IFunction;
  failedImports: Queue;
  alarms: Alarm[];
}

export function importDashboard(ferry: Construct & ImportDashboardParts): Dashboard {
  // Bundles arrive when someone carries them: a week shows the last few.
  const dashboard = new Dashboard(ferry, 'Dashboard', { defaultInterval: Duration.days(7) });
  const failedDepth = ferry.failedImports.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Failed imports waiting' });
  dashboard.addWidgets(
    new SingleValueWidget({ title: 'Now', width: 8, height: 4, metrics: [failedDepth] }),
    new SingleValueWidget({
      title: 'In the time range shown',
      width: 16,
      height: 4,
      setPeriodToTimeRange: true,
      metrics: [
        ferryMetric('import', IMPORT_METRICS.bundlesImported, { statistic: 'Sum', label: 'Bundles imported' }),
        ferryMetric('import', IMPORT_METRICS.entriesImported, { statistic: 'Sum', label: 'Entries uploaded' }),
        ferryMetric('import', IMPORT_METRICS.failures, { statistic: 'Sum', label: 'Import failures' }),
      ],
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Imports',
      width: 12,
      height: 6,
      left: [
        ferryMetric('import', IMPORT_METRICS.bundlesImported, { statistic: 'Sum', label: 'Bundles imported' }),
        ferryMetric('import', IMPORT_METRICS.failures, { statistic: 'Sum', label: 'Import failures (retried, then queued)' }),
      ],
      right: [ferryMetric('import', IMPORT_METRICS.entriesImported, { statistic: 'Sum', label: 'Entries uploaded' })],
    }),
    new GraphWidget({
      title: 'Failed-imports queue',
      width: 12,
      height: 6,
      left: [failedDepth],
      right: [ferry.failedImports.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: 'Oldest failed import (s)' })],
    }),
  );
  dashboard.addWidgets(...functionHealthWidgets({ import: ferry.importFunction }, 6));
  dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: ferry.alarms, width: 24, height: 3 }));
  new CfnOutput(ferry, 'DashboardName', { value: dashboard.dashboardName, description: 'CloudWatch dashboard of this import side' });
  return dashboard;
}
