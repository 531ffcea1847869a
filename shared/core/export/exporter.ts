/**
 * The export side's core, with its ports passed in. Entry points (CLI, Lambdas) build the
 * adapters and decide how copy tasks are run: an in-process worker pool or SQS.
 */
import { forEachLimited } from '../../concurrency.ts';
import type { Signer } from '../../signing.ts';
import { SourceMismatchError } from './errors.ts';
import { copyTask, resendFetchTasks, type CopyOutcome } from './copy.ts';
import { formatOf, type ExportDeps } from '../formats/index.ts';
import type { Log } from '../log.ts';
import type { ArtifactSource, Clock, CopyTask, ExportState, ImageRegistry, ObjectStore, TaskQueue } from '../ports/index.ts';
import { groupProblems, leafMembers } from './groups.ts';
import { scanGroup, scanRepository, type ScanRepository, type ScanResult } from './scan.ts';
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
  /** The registry serving a repository whose content lives in one (docker), when any is configured. */
  registryFor?: ((repository: string) => ImageRegistry) | undefined;
}

export interface Exporter {
  /**
   * Compares every repository the configuration reads through the components API with what
   * the source says (exists, format): a helm repository declared raw would export and fail
   * only at import. One problem per mismatched repository, by configured index.
   */
  checkSource(): Promise<{ index: number; repository: string; problem: string }[]>;
  /** Scans every configured repository (bounded parallelism); failures are collected, not hidden. */
  scan(options?: { shouldStop?: () => boolean }): Promise<{ results: ScanResult[]; failures: { repository: string; error: unknown }[] }>;
  copy(task: CopyTask): Promise<CopyOutcome>;
  seal(): Promise<SealResult>;
}

export function makeExporter(ports: ExporterPorts, settings: ExporterSettings): Exporter {
  const { source, store, queue, state, clock, log, signer } = ports;
  const deps: ExportDeps = { source, store, queue, state, clock, log, repositories: settings.repositories, registryFor: ports.registryFor };
  const checkSource = () => checkSourceRepositories(source, settings.repositories);
  return {
    checkSource,
    async scan(options = {}) {
      const results: ScanResult[] = [];
      const failures: { repository: string; error: unknown }[] = [];
      for (const mismatch of await checkSource()) {
        log.error(`${mismatch.repository}: not scanned: ${mismatch.problem}`, { repository: mismatch.repository });
        failures.push({ repository: mismatch.repository, error: new SourceMismatchError(mismatch.repository, mismatch.problem) });
      }
      const checked = settings.repositories.filter((r) => !failures.some((f) => f.repository === r.name));
      // Blobs the far side asked for again that are not staged here: fetched like any task.
      const fetches = await resendFetchTasks(state, store);
      if (fetches.length > 0) {
        await queue.enqueue(fetches);
        log.info(`queued ${fetches.length} blob(s) to fetch again for a resend request`);
      }
      const listed = new Map((await source.repositories()).map((r) => [r.name, r]));
      await forEachLimited(checked, settings.scanConcurrency, async (repository) => {
        try {
          if (listed.get(repository.name)?.type === 'group') {
            results.push(...(await scanGroup(deps, repository, leafMembers(listed, repository.name), { overlapMs: settings.overlapMs, ...options })));
          } else {
            results.push(await scanRepository(deps, repository, { overlapMs: settings.overlapMs, ...options }));
          }
        } catch (error) {
          log.error(`scan of ${repository.name} failed: ${(error as Error).message}`, { repository: repository.name });
          failures.push({ repository: repository.name, error });
        }
      });
      return { results, failures };
    },
    copy: (task) => copyTask(deps, task),
    seal: () => sealPending({ store, state, clock, log, sourceId: settings.sourceId, signer }, { maxBytes: settings.maxBundleBytes }),
  };
}

/** See {@link Exporter.checkSource}; usable before any state is opened. */
export async function checkSourceRepositories(
  source: Pick<ArtifactSource, 'repositories'>,
  repositories: readonly ScanRepository[],
): Promise<{ index: number; repository: string; problem: string }[]> {
  const listed = new Map((await source.repositories()).map((r) => [r.name, r]));
  const problems: { index: number; repository: string; problem: string }[] = [];
  for (const [index, repository] of repositories.entries()) {
    if (formatOf(repository.format).discoversItself?.(repository) === true) continue; // not in Nexus (a plain registry)
    const found = listed.get(repository.name);
    if (found === undefined) problems.push({ index, repository: repository.name, problem: `the source Nexus has no repository ${repository.name}` });
    else if (found.format !== repository.format) {
      problems.push({ index, repository: repository.name, problem: `declared ${repository.format}, but the source Nexus says ${repository.name} is a ${found.format} ${found.type} repository` });
    }
  }
  problems.push(...groupProblems(listed, repositories));
  return problems;
}
