/**
 * Applying raw entries, as planned (see import-plan.ts): each is done already (the
 * importer's own record), present on the target with the same content, or uploaded from
 * the held blobs. Entries for the same target path keep their order; distinct paths go in
 * parallel. Every outcome is recorded as it lands, so a killed run resumes without
 * re-uploading.
 */
import { coordinatesLabel } from '../../../bundle/index.ts';
import type { Digest } from '../../../digest.ts';
import { EntryUploadError } from '../../import/errors.ts';
import { forEachLimited } from '../../export/exporter.ts';
import type { RawStep } from '../../import/plan.ts';
import type { Log } from '../../log.ts';
import type { ArtifactTarget, ImportState, ObjectStore } from '../../ports/index.ts';

export interface RawImportDeps {
  target: ArtifactTarget;
  held: ObjectStore;
  state: ImportState;
  log: Log;
}

export async function applyRawSteps(deps: RawImportDeps, bundleDigest: Digest, plan: RawStep[], concurrency: number, progress: () => void): Promise<void> {
  const byPath = new Map<string, RawStep[]>();
  for (const step of plan) {
    const key = `${step.repository}\n${step.entry.target.path}`;
    byPath.set(key, [...(byPath.get(key) ?? []), step]);
  }
  await forEachLimited([...byPath.values()], concurrency, async (steps) => {
    for (const step of steps) {
      if (step.action === 'upload') {
        try {
          await deps.target.uploadRaw(step.repository, step.entry.target.path, await deps.held.getBlob(step.entry.digest));
        } catch (cause) {
          throw new EntryUploadError(step.index, coordinatesLabel({ repository: step.repository, path: step.entry.target.path }), { cause });
        }
        deps.log.debug(`imported ${step.repository}${step.entry.target.path}`, { digest: step.entry.digest, size: step.entry.size });
      }
      if (step.action !== 'done') await deps.state.recordEntryOutcome(bundleDigest, step.index, step.action === 'upload' ? 'imported' : 'present');
      progress();
    }
  });
}
