/**
 * The export side's core, with its ports passed in. Entry points (CLI, Lambdas) build the
 * adapters and decide how copy tasks are run: an in-process worker pool or SQS.
 */
import type { Signer } from '../signing.ts';
import { copyTask, type CopyOutcome } from './copy.ts';
import type { ImageCopyDeps } from './image-copy.ts';
import type { Log } from './log.ts';
import type { ArtifactSource, Clock, CopyTask, ExportState, ObjectStore, TaskQueue } from './ports.ts';
import { scanRepository, type ScanRepository, type ScanResult } from './scan.ts';
import { sealPending, type SealResult } from './seal.ts';

export interface ExporterSettings {
  sourceId: string;
  repositories: ScanRepository[];
  overlapMs: number;
  scanConcurrency: number;
  maxBundleBytes: number;
}

export interface ExporterPorts {
  source: ArtifactSource;
  store: ObjectStore;
  queue: TaskQueue;
  state: ExportState;
  clock: Clock;
  log: Log;
  signer: Signer;
  /** Docker repositories: the registry that serves each, and what to carry from it. */
  images?: Pick<ImageCopyDeps, 'registryFor' | 'settingsFor'> | undefined;
}

export interface Exporter {
  /** Scans every configured repository (bounded parallelism); failures are collected, not hidden. */
  scan(options?: { shouldStop?: () => boolean }): Promise<{ results: ScanResult[]; failures: { repository: string; error: unknown }[] }>;
  copy(task: CopyTask): Promise<CopyOutcome>;
  seal(): Promise<SealResult>;
}

export function makeExporter(ports: ExporterPorts, settings: ExporterSettings): Exporter {
  const { source, store, queue, state, clock, log, signer, images } = ports;
  return {
    async scan(options = {}) {
      const results: ScanResult[] = [];
      const failures: { repository: string; error: unknown }[] = [];
      await forEachLimited(settings.repositories, settings.scanConcurrency, async (repository) => {
        try {
          results.push(
            await scanRepository({ source, queue, state, clock, log, registryFor: images?.registryFor }, repository, { overlapMs: settings.overlapMs, ...options }),
          );
        } catch (error) {
          log.error(`scan of ${repository.name} failed: ${(error as Error).message}`, { repository: repository.name });
          failures.push({ repository: repository.name, error });
        }
      });
      return { results, failures };
    },
    copy: (task) => copyTask({ source, store, state, log, images }, task),
    seal: () => sealPending({ store, state, clock, log, sourceId: settings.sourceId, signer }, { maxBytes: settings.maxBundleBytes }),
  };
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}
