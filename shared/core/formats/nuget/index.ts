/**
 * The nuget format: `.nupkg` packages, one component (package id, version) each. The copy
 * verifies what Nexus publishes (sha1, or whichever checksum it lists) and computes the
 * sha256 Ferry addresses the blob by in the same pass. The import uploads each package
 * with `nuget.asset`, from which Nexus reads id and version (the `.nuspec` inside), then
 * checks that NuGet clients would find every package: the target's v3 flat container
 * lists its version.
 */
import type { PackageBundleEntry } from '../../../bundle/index.ts';
import { packageFormat, type PackageSpec } from '../package/index.ts';
import { identifyPackage } from './identify.ts';
import { checkReadSide } from './read-side.ts';

type NugetEntry = Extract<PackageBundleEntry, { kind: 'nuget' }>;

const nugetSpec: PackageSpec<NugetEntry> = {
  format: 'nuget',
  identify: identifyPackage,
  entryFields: async () => ({}),
  coordinates: (entry) => `${entry.component.name} ${entry.component.version}`,
  write: async (deps, items, blob) => {
    for (const { entry, repository, label } of items) {
      // Nexus names the stored package from its .nuspec; the part's file name only has to be a .nupkg.
      const filename = `${entry.component.name}.${entry.component.version}.nupkg`;
      await deps.target.uploadComponent(repository, { fields: [], files: [{ field: 'nuget.asset', filename, content: await blob(entry.digest) }] }, label);
    }
  },
  finish: (deps, items) => checkReadSide(deps, items),
};

export const nugetFormat = packageFormat(nugetSpec);
export { flatContainerVersion, identifyPackage } from './identify.ts';
