/**
 * The periodic full reconcile of deletions on AWS (`{"reconcile": true}` from its own
 * schedule, run by the scan function): for each repository with `deletions: carry`, the same
 * core function as `ferry export --reconcile-deletions` and `ferry serve` (export/reconcile.ts)
 * records a tombstone for every path the ledger holds that the source no longer lists. The
 * next seal carries them. One repository failing leaves the others' tombstones recorded.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { ExportError } from '../shared/core/export/errors.ts';
import { listingOnce, reconcileDeletions, type ReconcileResult, type ReconcileSource } from '../shared/core/export/reconcile.ts';
import type { ScanRepository } from '../shared/core/formats/index.ts';
import type { ExportState } from '../shared/core/ports/index.ts';
import { issueLines } from '../shared/issues.ts';
import { reconcileEventSchema } from './events.ts';
import { errorFields } from './wiring.ts';

export interface ReconcileSummary {
  reconciled: ReconcileResult[];
  failures: { repository: string; error: string }[];
  /** PATH items written for entries older than them; `complete` false: no repository was reconciled yet. */
  pathIndex?: { complete: boolean; written: number };
}

/** The scan function was invoked with a `reconcile` field that is not `true` alone. */
export class ReconcileEventError extends ExportError {
  override readonly name = 'ReconcileEventError';
}

/** Some repositories could not be reconciled; the others' tombstones stand. */
export class ReconcileFailedError extends ExportError {
  override readonly name = 'ReconcileFailedError';
}

/** True for the reconcile schedule's input; any other payload naming `reconcile` is refused. */
export function isReconcileEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null || !('reconcile' in event)) return false;
  const parsed = reconcileEventSchema.safeParse(event);
  if (!parsed.success) throw new ReconcileEventError(`not a reconcile request: ${issueLines(parsed.error).join('; ')}`, { cause: parsed.error });
  return true;
}

/** Fails the invocation when a repository failed, so it shows in Errors; the summary is logged first. */
export function throwOnFailures(summary: ReconcileSummary): ReconcileSummary {
  if (summary.failures.length > 0) throw new ReconcileFailedError(`reconcile failed for ${summary.failures.map((f) => f.repository).join(', ')}`);
  return summary;
}

/**
 * First completes the state's path index (a deployment older than it lists no old path),
 * within the invocation's time: a reconcile against an incomplete index would miss every
 * deletion among the old paths, so until it is complete no repository is reconciled, and
 * each scheduled run goes on with it.
 */
export async function reconcileCarried(
  deps: { source: ReconcileSource; state: ExportState; logger: Logger; shouldStop?: () => boolean },
  repositories: readonly ScanRepository[],
): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { reconciled: [], failures: [] };
  if (!repositories.some((r) => r.carryDeletions === true)) return summary;
  if (deps.state.completePathIndex !== undefined) {
    summary.pathIndex = await deps.state.completePathIndex(deps.shouldStop ?? (() => false));
    if (summary.pathIndex.written > 0 || !summary.pathIndex.complete) {
      deps.logger.info(`path index: ${summary.pathIndex.written} path(s) of older entries indexed; ${summary.pathIndex.complete ? 'complete' : 'not complete yet, reconcile waits for the next run'}`, summary.pathIndex);
    }
    if (!summary.pathIndex.complete) return summary;
  }
  const source = listingOnce(deps.source);
  for (const repository of repositories.filter((r) => r.carryDeletions === true)) {
    try {
      const result = await reconcileDeletions({ source, state: deps.state }, repository);
      deps.logger.info(`reconciled deletions of ${repository.name}: ${result.skipped ?? `${result.staged} tombstone(s) for paths gone from the source`}`, { repository: repository.name, staged: result.staged });
      summary.reconciled.push(result);
    } catch (error) {
      deps.logger.error(`reconcile of ${repository.name} failed`, { repository: repository.name, ...errorFields(error) });
      summary.failures.push({ repository: repository.name, error: (error as Error).message });
    }
  }
  return summary;
}

/**
 * The reconciles deletions asked for (ExportState.requestReconcile: a PURGED event named bare
 * ids), run by the scheduled scan after its scan rather than on the reconcile's own, slower
 * schedule. Each request is cleared once its repository reconciled, unless a newer one came;
 * one for a repository no longer carried with deletions is cleared unrun.
 */
export async function reconcileRequested(
  deps: Parameters<typeof reconcileCarried>[0],
  repositories: readonly ScanRepository[],
): Promise<ReconcileSummary | undefined> {
  const requests = (await deps.state.reconcileRequests?.()) ?? [];
  if (requests.length === 0) return undefined;
  const requestedAt = new Map(requests.map((r) => [r.repository, r.requestedAt]));
  const wanted = repositories.filter((r) => r.carryDeletions === true && requestedAt.has(r.name));
  for (const request of requests) {
    if (!wanted.some((r) => r.name === request.repository)) await deps.state.clearReconcileRequest?.(request.repository, request.requestedAt);
  }
  if (wanted.length === 0) return undefined;
  deps.logger.info(`reconcile of deletions asked for by a PURGED event: ${wanted.map((r) => r.name).join(', ')}`);
  const summary = await reconcileCarried(deps, wanted);
  for (const result of summary.reconciled) await deps.state.clearReconcileRequest?.(result.repository, requestedAt.get(result.repository)!);
  return summary;
}

