/**
 * The pypi format: wheels and sdists (`/packages/<name>/<version>/<file>` on a hosted
 * Nexus), each with its detached signature (`<file>.asc`) when the source has one. The
 * generated simple index is not carried: the target rebuilds it, and the import checks
 * that it lists every carried file with a hash matching the carried bytes.
 *
 * Two ways in on the target, because Nexus's components API cannot take a signature (its
 * `pypi.asset` handler reads any file as a package archive): an unsigned file goes through
 * `pypi.asset`, a signed one through the upload API twine uses (`POST /repository/R/`,
 * `:action=file_upload`, the file as `content` and the signature as `gpg_signature`),
 * which stores both as assets of one component.
 */
import { Readable } from 'node:stream';
import type { PypiBundleEntry } from '../../../bundle/index.ts';
import type { Digest } from '../../../digest.ts';
import type { BlobSource, ComponentCoordinates, PackageCopyTask, SourceAsset, SourceComponent, UploadForm } from '../../ports/index.ts';
import type { ExportDeps, ImportDeps } from '../format.ts';
import { packageFormat, type KindFields, type PackageItem, type PackageSpec } from '../package/index.ts';
import { componentFromPath, describeFile, fileNameOf, isGeneratedOrSignature, targetPathOf } from './names.ts';
import { checkSimpleIndexes, MAX_SIGNATURE_BYTES } from './simple-index.ts';

/** Task attribute: whether the listing showed `<file>.asc` beside the file (`listed` | `absent`); unset when unknown (a webhook). */
const SIGNATURE_HINT = 'signature';

function identify(asset: SourceAsset, component: SourceComponent | undefined): { component: ComponentCoordinates; attributes?: Record<string, string> } | undefined {
  if (isGeneratedOrSignature(asset.path)) return undefined;
  const listed = component !== undefined && component.version !== null && component.version !== '';
  const coordinates = listed ? { group: null, name: component.name, version: component.version! } : componentFromPath(asset.path);
  if (coordinates === undefined) return undefined;
  if (component === undefined) return { component: coordinates };
  const signed = component.assets.some((other) => other.path === `${asset.path}.asc`);
  return { component: coordinates, attributes: { [SIGNATURE_HINT]: signed ? 'listed' : 'absent' } };
}

/** The file's detached signature from the source, kept in the store beside it; null when it has none. */
async function entryFields(deps: ExportDeps, task: PackageCopyTask): Promise<KindFields<PypiBundleEntry>> {
  // The listing said there is none: spare the source a GET that would answer 404.
  if (task.attributes?.[SIGNATURE_HINT] === 'absent') return { signature: null };
  const bytes = await deps.source.readContent(task.sourceRepository, `${task.path}.asc`, MAX_SIGNATURE_BYTES);
  if (bytes === undefined) return { signature: null };
  const stored = await deps.store.putBlob(Readable.from([bytes]), { expectedSize: bytes.length });
  return { signature: { digest: stored.digest, size: stored.size } };
}

/** The text fields twine sends with a file; Nexus takes name and version from them and checks md5_digest. */
function uploadFields(entry: PypiBundleEntry): [string, string][] {
  const described = describeFile(fileNameOf(entry.target.path));
  return [
    [':action', 'file_upload'],
    ['protocol_version', '1'],
    ['name', entry.component.name],
    ['version', entry.component.version],
    ['filetype', described?.filetype ?? 'sdist'],
    ['pyversion', described?.pyversion ?? 'source'],
    ...(entry.checksums.md5 !== undefined ? [['md5_digest', entry.checksums.md5] as [string, string]] : []),
    ['sha256_digest', entry.digest.slice(7)],
  ];
}

async function writeOne(deps: ImportDeps, item: PackageItem<PypiBundleEntry>, blob: (digest: Digest) => Promise<BlobSource>): Promise<void> {
  const { entry, repository, label } = item;
  const file = fileNameOf(entry.target.path);
  const content = await blob(entry.digest);
  if (entry.signature === null) {
    await deps.target.uploadComponent(repository, { fields: [], files: [{ field: 'pypi.asset', filename: file, content }] }, label);
    return;
  }
  const form: UploadForm = {
    fields: uploadFields(entry),
    files: [
      { field: 'content', filename: file, content },
      { field: 'gpg_signature', filename: `${file}.asc`, content: await blob(entry.signature.digest) },
    ],
  };
  await deps.target.postForm(repository, '/', form, label);
}

const pypiSpec: PackageSpec<PypiBundleEntry> = {
  format: 'pypi',
  identify,
  entryFields: (deps, task) => entryFields(deps, task),
  extraBlobs: (fields) => (fields.signature === null ? [] : [fields.signature]),
  resendPath: (entry, digest) => (entry.signature !== null && digest === entry.signature.digest && digest !== entry.digest ? `${entry.source.path}.asc` : entry.source.path),
  targetPath: targetPathOf,
  coordinates: (entry) => `${entry.component.name}==${entry.component.version} (${fileNameOf(entry.target.path)})`,
  write: async (deps, items, blob) => {
    for (const item of items) await writeOne(deps, item, blob);
  },
  finish: (deps, items) => checkSimpleIndexes(deps, items),
};

export const pypiFormat = packageFormat(pypiSpec);
