/**
 * What `ferry serve` exposes on `/metrics` (Prometheus text format), on a registry of its own
 * so nothing else in the process leaks in. Counters count since the server started; the
 * task and lag gauges are read from the state file at each scrape, so they survive restarts.
 */
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';
import type { CopyOutcome } from '../../shared/core/export/copy.ts';
import type { TaskCounts } from '../../shared/adapters/embedded/index.ts';

/** How a webhook delivery ended, as the `outcome` label says it. */
export type DeliveryOutcome = 'accepted' | 'duplicate' | 'ignored' | 'forged' | 'invalid' | 'too_large' | 'failed' | 'unavailable';
const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = ['accepted', 'duplicate', 'ignored', 'forged', 'invalid', 'too_large', 'failed', 'unavailable'];

/** Where something failed, as the `stage` label of `ferry_failures_total` says it. */
export type FailureStage = 'scan' | 'copy' | 'seal' | 'webhook';
const FAILURE_STAGES: readonly FailureStage[] = ['scan', 'copy', 'seal', 'webhook'];

/** What the gauges read at scrape time. */
export interface MetricSources {
  taskCounts(): TaskCounts;
  /** Watermark (ISO instant) per repository scanned so far; absent before its first complete scan. */
  watermarks(): Promise<Map<string, string>>;
}

export class ServeMetrics {
  readonly registry = new Registry();
  readonly #copies: Counter<'outcome'>;
  readonly #stagedBytes: Counter;
  readonly #deduplicatedBytes: Counter;
  readonly #retries: Counter;
  readonly #failures: Counter<'stage'>;
  readonly #bundles: Counter;
  readonly #bundleBytes: Histogram;
  readonly #deliveries: Counter<'outcome'>;
  readonly #webhookTasks: Counter;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.#copies = new Counter({ name: 'ferry_copies_total', help: 'Copy tasks completed, by outcome: staged (new bytes), deduplicated (bytes already stored), known (already pending or sealed)', labelNames: ['outcome'], registers });
    this.#stagedBytes = new Counter({ name: 'ferry_staged_bytes_total', help: 'Bytes of new blobs staged from the source', registers });
    this.#deduplicatedBytes = new Counter({ name: 'ferry_deduplicated_bytes_total', help: 'Bytes of entries whose content was already staged (not fetched into the store again)', registers });
    this.#retries = new Counter({ name: 'ferry_copy_retries_total', help: 'Copy attempts that failed and will be retried', registers });
    this.#failures = new Counter({ name: 'ferry_failures_total', help: 'Failures by stage: a repository scan, a copy task given up on, a seal, a webhook not processed', labelNames: ['stage'], registers });
    this.#bundles = new Counter({ name: 'ferry_bundles_sealed_total', help: 'Bundles sealed and published to the outbox', registers });
    this.#bundleBytes = new Histogram({ name: 'ferry_bundle_bytes', help: 'Size of each sealed bundle in bytes', buckets: exponentialBuckets(64 * 1024, 4, 12), registers });
    this.#deliveries = new Counter({ name: 'ferry_webhook_deliveries_total', help: 'Webhook deliveries by outcome', labelNames: ['outcome'], registers });
    this.#webhookTasks = new Counter({ name: 'ferry_webhook_tasks_total', help: 'Copy tasks webhooks handed to the queue (the queue drops ones it has seen)', registers });
    for (const outcome of ['staged', 'deduplicated', 'known']) this.#copies.labels(outcome).inc(0);
    for (const stage of FAILURE_STAGES) this.#failures.labels(stage).inc(0);
    for (const outcome of DELIVERY_OUTCOMES) this.#deliveries.labels(outcome).inc(0);

    new Gauge({
      name: 'ferry_tasks',
      help: 'Copy tasks in the durable queue by state: queued (waiting), running, done, failed (gave up after every attempt)',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = sources.taskCounts();
        this.set({ state: 'queued' }, counts.ready);
        this.set({ state: 'running' }, counts.running);
        this.set({ state: 'done' }, counts.done);
        this.set({ state: 'failed' }, counts.dead);
      },
    });
    new Gauge({
      name: 'ferry_scan_lag_seconds',
      help: 'Seconds since the start of the last complete scan of each repository (its watermark): changes after it are not yet guaranteed found',
      labelNames: ['repository'],
      registers,
      async collect() {
        this.reset();
        const now = Date.now();
        for (const [repository, watermark] of await sources.watermarks()) this.set({ repository }, Math.max(0, (now - Date.parse(watermark)) / 1000));
      },
    });
    // The standard process_* and nodejs_* families, under their usual names for existing dashboards.
    collectDefaultMetrics({ register: this.registry });
  }

  copied(outcome: CopyOutcome): void {
    this.#copies.labels(outcome.status).inc();
    if (outcome.status === 'staged') this.#stagedBytes.inc(outcome.bytes);
    if (outcome.status === 'deduplicated') this.#deduplicatedBytes.inc(outcome.bytes);
  }

  retried(): void {
    this.#retries.inc();
  }

  failed(stage: FailureStage, count = 1): void {
    this.#failures.labels(stage).inc(count);
  }

  sealed(bundleBytes: number): void {
    this.#bundles.inc();
    this.#bundleBytes.observe(bundleBytes);
  }

  delivery(outcome: DeliveryOutcome, tasks = 0): void {
    this.#deliveries.labels(outcome).inc();
    if (tasks > 0) this.#webhookTasks.inc(tasks);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
