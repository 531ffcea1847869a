/**
 * The two loops of `ferry serve`, as the deployed side runs them as separate functions: the
 * copier drains the durable task queue through the exporter's copy whenever there is work
 * (webhook deliveries and scans put it there), and the schedule scans and seals at their
 * intervals. `stop` lets the copies in flight, a scan's current page and a seal finish;
 * whatever is still queued stays in the state file for the next start.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqliteTaskQueue, TaskEvent } from '../../shared/adapters/embedded/index.ts';
import { taskLabel } from '../../shared/core/export/copy.ts';
import type { Exporter } from '../../shared/core/export/exporter.ts';
import type { Log } from '../../shared/core/log.ts';
import type { CopyTask } from '../../shared/core/ports/index.ts';
import { ServeLoopError } from './errors.ts';
import type { ServeMetrics } from './metrics.ts';

export interface ServeLoopDeps {
  exporter: Exporter;
  queue: SqliteTaskQueue;
  log: Log;
  metrics: ServeMetrics;
  /** After each scan: the full reconcile of repositories that carry deletions (webhooks are lossy). */
  reconcileDeletions?: (() => Promise<void>) | undefined;
}

export interface ServeSchedule {
  scanIntervalMs: number;
  sealIntervalMs: number;
  copyConcurrency: number;
  maxAttempts: number;
}

export type LoopState = 'idle' | 'running' | 'stopping' | 'stopped' | 'crashed';

export class ServeLoop {
  readonly #deps: ServeLoopDeps;
  readonly #schedule: ServeSchedule;
  readonly #controller = new AbortController();
  /** Work arrived since the copier last looked: a kick that lands between two drains is not lost. */
  #kicked = false;
  /** A reconcile was asked for since the last one started (reconcileSoon). */
  #reconcileWanted = false;
  #wakeSchedule: AbortController | undefined;
  #wake: (() => void) | undefined;
  #state: LoopState = 'idle';
  #running: Promise<void> | undefined;
  /** Repositories (group members by their own name) a scan has completed, for the scan lag gauge. */
  readonly scanned = new Set<string>();

  constructor(deps: ServeLoopDeps, schedule: ServeSchedule) {
    this.#deps = deps;
    this.#schedule = schedule;
  }

  get state(): LoopState {
    return this.#state;
  }

  /**
   * Starts both loops. The promise settles when they have ended: after {@link stop}, or
   * rejected with a {@link ServeLoopError} when one could not go on (the other is stopped).
   */
  start(): Promise<void> {
    if (this.#running !== undefined) return this.#running;
    this.#state = 'running';
    const signal = this.#controller.signal;
    const guard = (loop: 'copy' | 'schedule', run: Promise<void>) =>
      run.catch((cause: unknown) => {
        this.#state = 'crashed';
        this.#controller.abort();
        throw new ServeLoopError(loop, { cause });
      });
    this.#running = Promise.all([guard('copy', this.#copyLoop(signal)), guard('schedule', this.#scheduleLoop(signal))]).then(() => {
      if (this.#state !== 'crashed') this.#state = 'stopped';
    });
    return this.#running;
  }

  /** New tasks are in the queue: the copier takes them now rather than at the next scan. */
  kick(): void {
    this.#kicked = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Nexus reported deletions without naming what (a PURGED event's bare ids): the schedule
   * runs the full reconcile now rather than after the next scan. Requests while one runs
   * make one more run after it.
   */
  reconcileSoon(): void {
    if (this.#deps.reconcileDeletions === undefined) return;
    this.#reconcileWanted = true;
    this.#wakeSchedule?.abort();
  }

  /** Stops scheduling and taking tasks; resolves once the work in hand is finished. */
  async stop(): Promise<void> {
    if (this.#state === 'running') this.#state = 'stopping';
    this.#controller.abort();
    await this.#running?.catch(() => undefined);
  }

  async #copyLoop(signal: AbortSignal): Promise<void> {
    const { queue, log, metrics } = this.#deps;
    while (!signal.aborted) {
      this.#kicked = false;
      const drained = await queue.drain((task) => this.#copy(task), {
        concurrency: this.#schedule.copyConcurrency,
        maxAttempts: this.#schedule.maxAttempts,
        signal,
        onEvent: (event) => this.#onTaskEvent(event),
      });
      if (drained.done > 0 || drained.dead.length > 0) {
        log.info(`copied ${drained.done} task(s)${drained.dead.length > 0 ? `, ${drained.dead.length} failed after every attempt (retried at the next scan)` : ''}`);
      }
      metrics.failed('copy', drained.dead.length);
      await this.#waitForWork(signal);
    }
  }

  async #copy(task: CopyTask): Promise<void> {
    const outcome = await this.#deps.exporter.copy(task);
    this.#deps.metrics.copied(outcome);
  }

  #onTaskEvent(event: TaskEvent): void {
    const { log, metrics } = this.#deps;
    const what = taskLabel(event.task);
    if (event.type === 'start') log.debug(`copying ${what} (attempt ${event.attempt})`);
    if (event.type === 'done') log.debug(`copied ${what}`);
    if (event.type === 'retry') {
      metrics.retried();
      log.warn(`task ${what} failed (attempt ${event.attempt}), will retry: ${(event.error as Error)?.message}`);
    }
    if (event.type === 'dead') log.error(`could not copy ${what}: ${(event.error as Error)?.message}`);
  }

  #waitForWork(signal: AbortSignal): Promise<void> {
    if (this.#kicked || signal.aborted) return Promise.resolve();
    const cleanup = new AbortController();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true, signal: cleanup.signal });
    }).finally(() => cleanup.abort());
  }

  async #scheduleLoop(signal: AbortSignal): Promise<void> {
    let nextScan = Date.now();
    let nextSeal = Date.now() + this.#schedule.sealIntervalMs;
    while (!signal.aborted) {
      if (Date.now() >= nextScan) {
        await this.#scan(signal);
        nextScan = Date.now() + this.#schedule.scanIntervalMs;
      }
      if (signal.aborted) break;
      if (Date.now() >= nextSeal) {
        await this.#seal();
        nextSeal = Date.now() + this.#schedule.sealIntervalMs;
      }
      if (this.#reconcileWanted && !signal.aborted) await this.#reconcile();
      const wake = new AbortController();
      this.#wakeSchedule = wake;
      const pause = this.#reconcileWanted ? 0 : Math.max(0, Math.min(nextScan, nextSeal) - Date.now());
      await sleep(pause, undefined, { signal: AbortSignal.any([signal, wake.signal]) }).catch(() => undefined);
    }
  }

  /** The full reconcile of deletions; a failure is logged, and the next scan reconciles again. */
  async #reconcile(): Promise<void> {
    this.#reconcileWanted = false;
    try {
      await this.#deps.reconcileDeletions?.();
    } catch (error) {
      this.#deps.metrics.failed('scan');
      this.#deps.log.error(`reconcile of deletions failed: ${(error as Error).message}`);
    }
  }

  /** Dead tasks get another chance (as each `ferry export` run gives them), then the safety-net scan. */
  async #scan(signal: AbortSignal): Promise<void> {
    const { exporter, queue, log, metrics } = this.#deps;
    try {
      const revived = queue.requeueDead();
      if (revived > 0) log.warn(`retrying ${revived} task(s) that failed before`);
      const { results, failures } = await exporter.scan({ shouldStop: () => signal.aborted });
      for (const result of results) if (result.complete) this.scanned.add(result.repository);
      metrics.failed('scan', failures.length);
      const components = results.reduce((n, r) => n + r.components, 0);
      const queued = results.reduce((n, r) => n + r.queued, 0);
      log.info(`scan finished: ${components} components, ${queued} new tasks${failures.length > 0 ? `, ${failures.length} repositories failed` : ''}`);
      if (!signal.aborted) await this.#reconcile();
    } catch (error) {
      // The source unreachable, say: the next scan tries again; webhooks still queue work.
      metrics.failed('scan');
      log.error(`scan failed: ${(error as Error).message}`);
    } finally {
      this.kick();
    }
  }

  async #seal(): Promise<void> {
    const { exporter, log, metrics } = this.#deps;
    try {
      const sealed = await exporter.seal();
      for (const b of sealed.bundles) {
        metrics.sealed(b.size);
        log.info(`sealed ${b.location}: sequence ${b.sequence}, ${b.entries} entries, ${b.blobsIncluded} blobs shipped, ${b.blobsRequired} required from earlier bundles, ${b.size} bytes`);
      }
      for (const bundle of sealed.republished) log.warn(`published ${bundle.location}: sealed by an earlier run that stopped before publishing it`);
      for (const oversized of sealed.oversized) log.error(oversized.message);
    } catch (error) {
      metrics.failed('seal');
      log.error(`seal failed: ${(error as Error).message}`);
    }
  }
}
