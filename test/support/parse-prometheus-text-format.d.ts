/** Types for parse-prometheus-text-format 1.1.1, which ships none (its README's output shape). */
declare module 'parse-prometheus-text-format' {
  export interface PrometheusSample {
    /** Counters, gauges, untyped. */
    value?: string;
    labels?: Record<string, string>;
    /** Histograms: cumulative count per upper bound (`le`). */
    buckets?: Record<string, string>;
    /** Summaries: value per quantile. */
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }

  export interface PrometheusFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: PrometheusSample[];
  }

  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
