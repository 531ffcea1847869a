/**
 * What both dashboards draw from: the metrics the functions publish with Powertools (names
 * from functions/metrics.ts, so a renamed metric cannot leave a dashboard watching nothing)
 * and the Lambda service's own metrics of each function.
 */
import { Duration } from 'aws-cdk-lib';
import { GraphWidget, Metric, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { METRICS_NAMESPACE, serviceOf, type FerryFunctionName } from '../functions/metrics.ts';

/** Every widget's period unless it says otherwise: the export schedules run every 15 minutes and hour. */
export const DASHBOARD_PERIOD = Duration.minutes(5);

/**
 * A metric one Ferry function publishes: namespace `Ferry`, dimension `service` (its
 * POWERTOOLS_SERVICE_NAME) and any further dimensions it adds (the scan's `repository`).
 */
export function ferryMetric(
  fn: FerryFunctionName,
  metricName: string,
  options: { statistic: 'Sum' | 'Maximum' | 'Average'; label: string; dimensions?: Record<string, string>; period?: Duration },
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: serviceOf(fn), ...options.dimensions },
    statistic: options.statistic,
    label: options.label,
    period: options.period ?? DASHBOARD_PERIOD,
  });
}

/** Errors and throttles of each function, and how close the slowest invocation came to its timeout. */
export function functionHealthWidgets(functions: Record<string, IFunction>, height: number): GraphWidget[] {
  const each = (metric: (fn: IFunction, name: string) => IMetric) => Object.entries(functions).map(([name, fn]) => metric(fn, name));
  return [
    new GraphWidget({
      title: 'Function errors and throttles',
      width: 12,
      height,
      left: each((fn, name) => fn.metricErrors({ statistic: 'Sum', period: DASHBOARD_PERIOD, label: `${name} errors` })),
      right: each((fn, name) => fn.metricThrottles({ statistic: 'Sum', period: DASHBOARD_PERIOD, label: `${name} throttles` })),
    }),
    new GraphWidget({
      title: 'Slowest invocation (ms)',
      width: 12,
      height,
      left: each((fn, name) => fn.metricDuration({ statistic: 'Maximum', period: DASHBOARD_PERIOD, label: name })),
    }),
  ];
}
