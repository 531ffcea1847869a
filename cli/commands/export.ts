/** `ferry export`: scan, copy (in-process worker pool), seal — once, or on an interval. */
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../shared/config/errors.ts';
import { loadExportConfig, type ResolvedExportConfig } from '../../shared/config/export-config.ts';
import { exporterSettingsOf } from '../../shared/config/repositories.ts';
import { resolveCredentials } from '../../shared/config/credentials.ts';
import { loadConfiguredPrivateKey } from '../../shared/config/keys.ts';
import { openDatabase, SqliteExportState, SqliteTaskQueue } from '../../shared/adapters/embedded/index.ts';
import { taskLabel } from '../../shared/core/export/copy.ts';
import { checkSourceRepositories, makeExporter, type Exporter } from '../../shared/core/export/exporter.ts';
import { listingOnce, reconcileDeletions } from '../../shared/core/export/reconcile.ts';
import type { CopyTask } from '../../shared/core/ports/index.ts';
import type { ScanRepository } from '../../shared/core/export/scan.ts';
import { systemClock } from '../../shared/core/ports/index.ts';
import { NexusClient } from '../../shared/adapters/nexus/index.ts';
import { localSigner } from '../../shared/signing.ts';
import { MeteredObjectStore } from '../metered.ts';
import { makeOutput, type Output } from '../output.ts';
import { RegistrySet } from '../registries.ts';

export interface ExportRunSummary {
  scanned: number;
  queued: number;
  copied: { staged: number; deduplicated: number; known: number; bytes: number };
  dead: { id: string; what: string; error: string }[];
  bundles: { name: string; location: string; sequence: number; entries: number; bytes: number; blobsIncluded: number; blobsRequired: number }[];
  problems: string[];
}

/** The embedded export side, wired: the exporter over its adapters, and how to close them. */
export interface EmbeddedExport {
  exporter: Exporter;
  queue: SqliteTaskQueue;
  /** The staging store; counts what copy streams into it for the progress bar. */
  store: MeteredObjectStore;
  /** What `ferry serve` needs besides: webhooks read the source and the ledger, share the state file. */
  source: NexusClient;
  state: SqliteExportState;
  db: DatabaseSync;
  repositories: ScanRepository[];
  close(): Promise<void>;
}

/**
 * Builds the exporter on the embedded adapters. The configured repositories are checked
 * against the source first (a repository declared in another format would fail only at
 * import), before any state is opened.
 */
export async function openExport(config: ResolvedExportConfig, out: Output): Promise<EmbeddedExport> {
  const credentials = await resolveCredentials(config.source.credentials, process.env, (p) => path.resolve(config.configDir, p));
  const signer = localSigner(await loadConfiguredPrivateKey(config.configFile, 'signing.privateKeyFile', config.signing.privateKeyFile));
  const source = new NexusClient({
    baseUrl: config.source.url,
    ...(credentials ?? {}),
    caFile: config.source.caFile,
    onRetry: (r) => out.log.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`),
  });
  const settings = exporterSettingsOf(config.sourceId, config.source.repositories, {
    overlapSeconds: config.scan.overlapSeconds,
    scanConcurrency: config.scan.concurrency,
    maxBundleBytes: config.bundles.maxBytes,
  });
  const mismatches = await checkSourceRepositories(source, settings.repositories).catch(async (error: unknown) => {
    await source.close();
    throw error;
  });
  if (mismatches.length > 0) {
    await source.close();
    throw new ConfigError(config.configFile, mismatches.map((m) => `source.repositories[${m.index}] (${m.repository}): ${m.problem}`));
  }
  const db = openDatabase(path.join(config.workDir, 'state.db'));
  const store = new MeteredObjectStore(path.join(config.workDir, 'objects'), { bundlesDir: config.bundlesDir });
  const queue = new SqliteTaskQueue(db);
  const endpoints = Object.fromEntries(config.source.repositories.flatMap((r) => (r.format === 'docker' ? [[r.name, r.registry] as const] : [])));
  const registries = await RegistrySet.open(endpoints, config.configDir, out.log, config.source.credentials);
  const ports = { source, store, queue, state: new SqliteExportState(db), clock: systemClock, log: out.log, signer, registryFor: (r: string) => registries.require(r) };
  return {
    exporter: makeExporter(ports, settings),
    queue,
    store,
    source,
    state: ports.state,
    db,
    repositories: settings.repositories,
    async close() {
      await registries.close();
      await source.close();
      queue.close?.();
      if (db.isOpen) db.close();
    },
  };
}

/** One run: tasks that failed before get another chance, then scan, copy (in-process pool), seal. */
export async function runExportOnce(config: ResolvedExportConfig, out: Output, signal?: AbortSignal, options: { reconcile?: boolean } = {}): Promise<ExportRunSummary> {
  const { exporter, queue, store, close, source, state, repositories } = await openExport(config, out);
  const summary: ExportRunSummary = { scanned: 0, queued: 0, copied: { staged: 0, deduplicated: 0, known: 0, bytes: 0 }, dead: [], bundles: [], problems: [] };
  try {
    const revived = queue.requeueDead();
    if (revived > 0) out.log.warn(`retrying ${revived} task(s) that failed in an earlier run`);
    const scan = await exporter.scan();
    summary.scanned = scan.results.reduce((n, r) => n + r.components, 0);
    summary.queued = scan.results.reduce((n, r) => n + r.queued, 0);
    for (const failure of scan.failures) summary.problems.push(`scan of ${failure.repository} failed: ${(failure.error as Error).message}`);
    await copyQueued({ exporter, queue, store }, config, out, summary, signal);
    // After the copies: the ledger then holds every path this run staged, so none is taken for gone.
    if (options.reconcile === true) {
      const listed = listingOnce(source);
      for (const repository of repositories.filter((r) => r.carryDeletions === true)) {
        const reconciled = await reconcileDeletions({ source: listed, state }, repository);
        out.log.info(`reconciled deletions of ${repository.name}: ${reconciled.skipped ?? `${reconciled.staged} tombstone(s) for paths gone from the source`}`);
      }
    }
    const sealed = await exporter.seal();
    for (const b of sealed.bundles) {
      summary.bundles.push({ name: b.name, location: b.location, sequence: b.sequence, entries: b.entries, bytes: b.size, blobsIncluded: b.blobsIncluded, blobsRequired: b.blobsRequired });
    }
    for (const bundle of sealed.republished) out.log.warn(`published ${bundle.location}: sealed by an earlier run that stopped before publishing it`);
    for (const oversized of sealed.oversized) summary.problems.push(oversized.message);
    return summary;
  } finally {
    await close();
  }
}

/** Drains the task queue through the exporter's copy, with a progress bar; dead tasks become problems. */
async function copyQueued(
  { exporter, queue, store }: Pick<EmbeddedExport, 'exporter' | 'queue' | 'store'>,
  config: ResolvedExportConfig,
  out: Output,
  summary: ExportRunSummary,
  signal: AbortSignal | undefined,
): Promise<void> {
  const progress = copyProgress(queue, store, out);
  const drained = await queue.drain(
    async (task) => {
      const outcome = await exporter.copy(task);
      progress.finished(task, outcome.status === 'known');
      if (outcome.status === 'known') summary.copied.known += 1;
      else {
        summary.copied[outcome.status] += 1;
        summary.copied.bytes += outcome.bytes;
      }
    },
    {
      concurrency: config.copy.concurrency,
      maxAttempts: config.copy.maxAttempts,
      ...(signal ? { signal } : {}),
      onEvent: (event) => {
        if (event.type === 'dead') progress.finished(event.task, true);
        if (event.type === 'retry') out.log.warn(`task ${taskLabel(event.task)} failed (attempt ${event.attempt}), will retry: ${(event.error as Error)?.message}`);
      },
    },
  ).finally(() => progress.stop());
  for (const dead of drained.dead) {
    summary.dead.push({ id: dead.task.id, what: taskLabel(dead.task), error: dead.error });
    summary.problems.push(`could not copy ${taskLabel(dead.task)}: ${dead.error}`);
  }
}

/**
 * The copy bar, in bytes: what copy streams into the store, of the sizes the ready tasks
 * listed. A task that ends without its bytes (content already known, or dead) takes its
 * size off the total; an image tag, whose size no listing gives, adds what it streams.
 */
function copyProgress(queue: SqliteTaskQueue, store: MeteredObjectStore, out: Output) {
  const ready = queue.readyWork();
  const bar = ready.tasks > 0 ? out.progress('copying', ready.bytes, { bytes: true }) : { update: () => undefined, stop: () => undefined };
  let total = ready.bytes;
  let streamed = 0;
  let finished = 0;
  const show = () => bar.update(streamed, Math.max(total, streamed), `${finished}/${Math.max(ready.tasks, finished)} tasks`);
  store.onBytes = (bytes) => {
    streamed += bytes;
    show();
  };
  show();
  return {
    finished(task: CopyTask, withoutBytes: boolean) {
      finished += 1;
      if (withoutBytes && 'size' in task && typeof task.size === 'number') total -= task.size;
      show();
    },
    stop() {
      store.onBytes = undefined;
      bar.stop();
    },
  };
}

export async function exportCommand(options: { config: string; once?: boolean; interval: string; verbose?: boolean; reconcileDeletions?: boolean }): Promise<void> {
  const config = await loadExportConfig(options.config);
  const out = makeOutput({ verbose: options.verbose ?? false });
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    do {
      const summary = await runExportOnce(config, out, controller.signal, { reconcile: options.reconcileDeletions ?? false });
      report(summary, out);
      if (summary.problems.length > 0) process.exitCode = 1;
      if (options.once) break;
      await sleep(Number(options.interval) * 1000, undefined, { signal: controller.signal }).catch(() => undefined);
    } while (!controller.signal.aborted);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function report(summary: ExportRunSummary, out: Output): void {
  const c = summary.copied;
  out.line(
    `scanned ${summary.scanned} components, queued ${summary.queued} tasks; staged ${c.staged} new blobs, ` +
      `${c.deduplicated} deduplicated, ${c.known} already known (${c.bytes} bytes)`,
  );
  if (summary.bundles.length === 0) out.line('nothing new to seal');
  for (const b of summary.bundles) {
    out.line(`sealed ${b.location}: sequence ${b.sequence}, ${b.entries} entries, ${b.blobsIncluded} blobs shipped, ${b.blobsRequired} required from earlier bundles, ${b.bytes} bytes`);
  }
  for (const problem of summary.problems) out.log.error(problem);
}
