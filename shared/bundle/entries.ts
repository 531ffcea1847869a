/**
 * The entries a bundle manifest carries, one kind per format: `raw`, `image` (docker), and
 * the package kinds `maven2`, `npm`, `pypi`, `nuget`, `helm`. Their schemas, their
 * canonical key order (the signature covers exact bytes) and the blobs each needs. The
 * rules are written down in docs/bundle-format.md.
 */
import * as z from 'zod';
import { isDigest, type Digest } from '../digest.ts';
import { REPOSITORY_NAME } from '../config/names.ts';
import { IMAGE_NAME, IMAGE_TAG } from '../oci/names.ts';

export const digestSchema = z.custom<Digest>((value) => typeof value === 'string' && isDigest(value), {
  error: "must be 'sha256:' followed by 64 lowercase hex digits",
});

export const sizeSchema = z.number().int('must be an integer').min(0, 'must not be negative').max(Number.MAX_SAFE_INTEGER);

export const repositorySchema = z
  .string()
  .regex(REPOSITORY_NAME, 'must be a Nexus repository name (letters, digits, _ - . ; not starting with _ or .)');

/**
 * Why Nexus would refuse (or silently rewrite) an asset path, or [] when it takes it as
 * is. Nexus refuses `.` and `..` segments and folds `//`, so a path that is not already in
 * Nexus's own form could land elsewhere than the manifest says: it is refused before any
 * write, on both sides (the copy refuses to stage it, the manifest schema to read it).
 */
export function assetPathProblems(path: string): string[] {
  const problems: string[] = [];
  if (!path.startsWith('/')) problems.push("must start with '/'");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) problems.push('must not contain control characters');
  if (path.includes('\\')) problems.push('must not contain a backslash');
  if (path === '/' || path.endsWith('/')) problems.push("must name a file (not end with '/')");
  const segments = path.split('/').slice(1);
  if (segments.includes('..') || segments.includes('.')) problems.push("must not contain a '.' or '..' segment");
  if (segments.slice(0, -1).includes('')) problems.push("must not contain an empty segment ('//')");
  return problems;
}

const assetPathSchema = z.string().superRefine((path, ctx) => {
  for (const message of assetPathProblems(path)) ctx.addIssue({ code: 'custom', message });
});

const hex = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`), `must be ${length} lowercase hex digits`);

const checksumsSchema = z.strictObject({
  sha256: hex(64).optional(),
  sha1: hex(40).optional(),
  md5: hex(32).optional(),
  sha512: hex(128).optional(),
});

const coordinatesSchema = z.strictObject({ repository: repositorySchema, path: assetPathSchema });

const rawEntrySchema = z.strictObject({
  kind: z.literal('raw'),
  source: coordinatesSchema,
  target: coordinatesSchema,
  digest: digestSchema,
  size: sizeSchema,
  checksums: checksumsSchema,
});

/** Distribution-spec repository name (`team/app`) and tag grammar. */
const imageNameSchema = z
  .string()
  .regex(IMAGE_NAME, 'must be an image name (lowercase path components)')
  .max(255);
const tagSchema = z.string().regex(IMAGE_TAG, 'must be an image tag');
const mediaTypeSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/, 'must be a media type');
const descriptorSchema = z.strictObject({ mediaType: mediaTypeSchema, digest: digestSchema, size: sizeSchema });
const imageCoordinatesSchema = z.strictObject({ repository: repositorySchema, name: imageNameSchema, tag: tagSchema });

/**
 * An image tag: the tagged manifest (`digest`, an image manifest or an index), the child
 * manifests of an index, the configs and layers of all of them (`blobs`), and referrers
 * (signatures, attestations, SBOMs) that travel with their subject.
 */
const imageEntrySchema = z.strictObject({
  kind: z.literal('image'),
  source: imageCoordinatesSchema,
  target: imageCoordinatesSchema,
  digest: digestSchema,
  size: sizeSchema,
  mediaType: mediaTypeSchema,
  manifests: z.array(descriptorSchema),
  blobs: z.array(z.strictObject({ digest: digestSchema, size: sizeSchema })),
  referrers: z.array(z.strictObject({ mediaType: mediaTypeSchema, digest: digestSchema, size: sizeSchema, tag: tagSchema.optional() })),
});



/** Component coordinates are shown and compared, never used as paths: text, no control characters. */
const componentText = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

/** A component as Nexus names it: `group` is the Maven groupId or the npm scope (without `@`), else null. */
const componentSchema = z.strictObject({ group: componentText.nullable(), name: componentText, version: componentText });

/** What every package entry has: one asset (a file), where it came from and goes, and its component. */
const packageFields = {
  source: coordinatesSchema,
  target: coordinatesSchema,
  digest: digestSchema,
  size: sizeSchema,
  checksums: checksumsSchema,
  component: componentSchema,
};

/**
 * One file of a Maven component (pom, jar, sources, `.asc`…). `maven` holds what the path
 * alone does not say reliably: the base version of a snapshot and the extension/classifier
 * split the upload needs.
 */
const maven2EntrySchema = z.strictObject({
  kind: z.literal('maven2'),
  ...packageFields,
  maven: z.strictObject({
    baseVersion: componentText,
    extension: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a Maven extension (e.g. jar, pom, jar.asc)'),
    classifier: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a Maven classifier').nullable(),
  }),
});

/** A package tarball, with the dist-tags its package had on the source when it was staged. */
const npmEntrySchema = z.strictObject({
  kind: z.literal('npm'),
  ...packageFields,
  distTags: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be an npm dist-tag'), componentText),
});

/** A wheel or sdist, with its detached signature (`<file>.asc`) when the source has one. */
const pypiEntrySchema = z.strictObject({
  kind: z.literal('pypi'),
  ...packageFields,
  signature: z.strictObject({ digest: digestSchema, size: sizeSchema }).nullable(),
});

/** A chart (`<name>-<version>.tgz`) or its provenance file (`.tgz.prov`). */
const helmEntrySchema = z.strictObject({ kind: z.literal('helm'), ...packageFields });

/** A `.nupkg`. */
const nugetEntrySchema = z.strictObject({ kind: z.literal('nuget'), ...packageFields });

/** The entry kinds a tombstone can remove: every kind that puts something on the target. */
export const TOMBSTONE_OF = ['raw', 'image', 'maven2', 'npm', 'pypi', 'helm', 'nuget'] as const;

/**
 * Something deleted on the source (`ferry.bundle.v3`): the importer deletes it on the target
 * only if Ferry imported it there and it still has this content (`digest`: the asset's
 * sha256, or the tag's manifest digest). It needs no blob.
 */
const tombstoneEntrySchema = z
  .strictObject({
    kind: z.literal('tombstone'),
    of: z.enum(TOMBSTONE_OF),
    source: z.union([coordinatesSchema, imageCoordinatesSchema]),
    target: z.union([coordinatesSchema, imageCoordinatesSchema]),
    digest: digestSchema,
    size: sizeSchema,
    checksums: checksumsSchema,
  })
  .superRefine((entry, ctx) => {
    for (const side of ['source', 'target'] as const) {
      if ((entry.of === 'image') !== ('tag' in entry[side])) {
        ctx.addIssue({ code: 'custom', path: [side], message: entry.of === 'image' ? 'must be {repository, name, tag} for an image' : 'must be {repository, path}' });
      }
    }
  });

export const entrySchema = z.discriminatedUnion('kind', [
  rawEntrySchema,
  imageEntrySchema,
  maven2EntrySchema,
  npmEntrySchema,
  pypiEntrySchema,
  helmEntrySchema,
  nugetEntrySchema,
  tombstoneEntrySchema,
]);

export type BundleEntry = z.output<typeof entrySchema>;
export type RawBundleEntry = z.output<typeof rawEntrySchema>;
export type ImageBundleEntry = z.output<typeof imageEntrySchema>;
export type Maven2BundleEntry = z.output<typeof maven2EntrySchema>;
export type NpmBundleEntry = z.output<typeof npmEntrySchema>;
export type PypiBundleEntry = z.output<typeof pypiEntrySchema>;
export type PackageBundleEntry = Extract<BundleEntry, { component: unknown }>;
export type TombstoneBundleEntry = z.output<typeof tombstoneEntrySchema>;

/** The kinds a `ferry.bundle.v1` manifest may hold; the package kinds came with v2. */
export const V1_ENTRY_KINDS: ReadonlySet<string> = new Set(['raw', 'image']);

/** `raw-a/dir/x.bin` or `docker-hosted/team/app:1.0`: an entry's side in words. */
export function coordinatesLabel(side: BundleEntry['source']): string {
  return 'path' in side ? `${side.repository}${side.path}` : `${side.repository}/${side.name}:${side.tag}`;
}

/** Every blob an entry needs on the far side, with the field that names it. */
export function entryBlobs(entry: BundleEntry): { digest: Digest; size: number; field: string }[] {
  if (entry.kind === 'tombstone') return [];
  const own = { digest: entry.digest, size: entry.size, field: 'digest' };
  if (entry.kind === 'image') {
    return [
      own,
      ...entry.manifests.map((m, i) => ({ digest: m.digest, size: m.size, field: `manifests[${i}].digest` })),
      ...entry.blobs.map((b, i) => ({ digest: b.digest, size: b.size, field: `blobs[${i}].digest` })),
      ...entry.referrers.map((r, i) => ({ digest: r.digest, size: r.size, field: `referrers[${i}].digest` })),
    ];
  }
  if (entry.kind === 'pypi' && entry.signature !== null) return [own, { ...entry.signature, field: 'signature.digest' }];
  return [own];
}

/** An entry with its keys in schema order, whatever the input's order: the manifest's canonical bytes. */
export function orderedEntry(entry: BundleEntry): object {
  if (entry.kind === 'image') {
    const coordinates = (c: ImageBundleEntry['source']) => ({ repository: c.repository, name: c.name, tag: c.tag });
    return {
      kind: entry.kind,
      source: coordinates(entry.source),
      target: coordinates(entry.target),
      digest: entry.digest,
      size: entry.size,
      mediaType: entry.mediaType,
      manifests: entry.manifests.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      blobs: entry.blobs.map(({ digest, size }) => ({ digest, size })),
      referrers: entry.referrers.map(({ mediaType, digest, size, tag }) => ({ mediaType, digest, size, tag })),
    };
  }
  if (entry.kind === 'tombstone') {
    const side = (c: TombstoneBundleEntry['source']) => ('tag' in c ? { repository: c.repository, name: c.name, tag: c.tag } : { repository: c.repository, path: c.path });
    const { sha256, sha1, md5, sha512 } = entry.checksums;
    return { kind: entry.kind, of: entry.of, source: side(entry.source), target: side(entry.target), digest: entry.digest, size: entry.size, checksums: { sha256, sha1, md5, sha512 } };
  }
  const common = {
    kind: entry.kind,
    source: { repository: entry.source.repository, path: entry.source.path },
    target: { repository: entry.target.repository, path: entry.target.path },
    digest: entry.digest,
    size: entry.size,
    // JSON.stringify drops the undefined checksum keys, keeping the output canonical.
    checksums: { sha256: entry.checksums.sha256, sha1: entry.checksums.sha1, md5: entry.checksums.md5, sha512: entry.checksums.sha512 },
  };
  if (entry.kind === 'raw') return common;
  const component = { group: entry.component.group, name: entry.component.name, version: entry.component.version };
  switch (entry.kind) {
    case 'maven2':
      return { ...common, component, maven: { baseVersion: entry.maven.baseVersion, extension: entry.maven.extension, classifier: entry.maven.classifier } };
    case 'npm':
      return { ...common, component, distTags: Object.fromEntries(Object.entries(entry.distTags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
    case 'pypi':
      return { ...common, component, signature: entry.signature === null ? null : { digest: entry.signature.digest, size: entry.signature.size } };
    default:
      return { ...common, component };
  }
}
