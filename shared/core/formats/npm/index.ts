/**
 * The npm format: package tarballs (`/<name>/-/<name>-<version>.tgz`, scoped or not), each
 * uploaded with `npm.asset`, carrying the package's dist-tags as the source had them. Nexus
 * publishes only md5 and sha1 for tarballs; the copy also computes the sha512 npm clients
 * verify (`dist.integrity`). After the uploads the target's packument is settled (tags,
 * `latest`, integrity) and checked (finish.ts).
 */
import type { NpmBundleEntry } from '../../../bundle/index.ts';
import { packageFormat, type PackageSpec } from '../package/index.ts';
import { identifyNpm, npmEntryFields } from './export.ts';
import { settleNpm } from './finish.ts';
import { packageName, tarballFilename, tarballPathOf } from './names.ts';

const npmSpec: PackageSpec<NpmBundleEntry> = {
  format: 'npm',
  identify: identifyNpm,
  sha512: true,
  entryFields: (deps, task, staged) => npmEntryFields(deps, task, staged),
  targetPath: (_path, component) => tarballPathOf(component),
  coordinates: (entry) => `${packageName(entry.component)}@${entry.component.version}`,
  write: async (deps, items, blob) => {
    for (const { entry, repository, label } of items) {
      const file = { field: 'npm.asset', filename: tarballFilename(entry.target.path), content: await blob(entry.digest) };
      await deps.target.uploadComponent(repository, { fields: [], files: [file] }, label);
    }
  },
  finish: (deps, items) => settleNpm(deps, items),
};

export const npmFormat = packageFormat(npmSpec);
