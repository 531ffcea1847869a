import type { Digest } from '../../digest.ts';
import type { EntryRefusal } from '../import/errors.ts';
import type { PlannedEntry } from './format.ts';

/** Refuses, within one bundle, a second write of other content to one path or tag of an `allow_once` repository. */
export function allowOnceTwice(): (planned: PlannedEntry, key: string, digest: Digest) => EntryRefusal | undefined {
  const written = new Map<string, Digest>();
  return (planned, key, digest) => {
    const first = written.get(key);
    if (first === undefined) written.set(key, digest);
    if (planned.target.writePolicy !== 'allow_once' || first === undefined || first === digest) return undefined;
    return {
      index: planned.index,
      entry: planned.label,
      reason: `an earlier entry of this bundle writes other content to it, and ${planned.repository} does not allow redeploying it (write policy allow_once)`,
    };
  };
}
