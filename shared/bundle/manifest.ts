/**
 * The bundle manifest (`ferry/manifest.json`): what a bundle carries and where it belongs
 * in its source's chain. It is a public interface, versioned by `format`; the exact rules
 * are written down in docs/bundle-format.md and any change to them needs a format bump.
 */
import { z } from 'zod';
import { isDigest, sha256Of, type Digest } from '../digest.ts';
import { issueLines } from '../errors.ts';
import { REPOSITORY_NAME, SOURCE_ID } from '../config/names.ts';
import { IMAGE_NAME, IMAGE_TAG } from '../oci/names.ts';
import { ManifestError } from './errors.ts';

export const BUNDLE_FORMAT = 'ferry.bundle.v1';

/** Upper bound on the manifest's size, so a reader can hold it in memory safely. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;


const digestSchema = z.custom<Digest>((value) => typeof value === 'string' && isDigest(value), {
  error: "must be 'sha256:' followed by 64 lowercase hex digits",
});

const sizeSchema = z.number().int('must be an integer').min(0, 'must not be negative').max(Number.MAX_SAFE_INTEGER);

const repositorySchema = z
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

const entrySchema = z.discriminatedUnion('kind', [rawEntrySchema, imageEntrySchema]);

const manifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  sourceId: z.string().regex(SOURCE_ID, `must match ${SOURCE_ID}`),
  sequence: z.number().int('must be an integer').min(1, 'must be at least 1').max(Number.MAX_SAFE_INTEGER),
  previous: digestSchema.nullable(),
  createdAt: z.iso.datetime({ error: 'must be an ISO 8601 UTC timestamp (e.g. 2026-11-23T19:00:00.000Z)' }),
  entries: z.array(entrySchema),
  blobs: z.strictObject({
    included: z.array(z.strictObject({ digest: digestSchema, size: sizeSchema })),
    required: z.array(
      z.strictObject({
        digest: digestSchema,
        size: sizeSchema,
        // 0: not shipped by this chain; the far side holds it according to a receipt.
        shippedIn: z.number().int('must be an integer').min(0, 'must not be negative'),
      }),
    ),
  }),
  layout: z.strictObject({ index: digestSchema }),
});

export type BundleManifest = z.output<typeof manifestSchema>;
export type BundleEntry = z.output<typeof entrySchema>;
export type RawBundleEntry = z.output<typeof rawEntrySchema>;
export type ImageBundleEntry = z.output<typeof imageEntrySchema>;

/** `raw-a/dir/x.bin` or `docker-hosted/team/app:1.0`: an entry's side in words. */
export function coordinatesLabel(side: BundleEntry['source']): string {
  return 'path' in side ? `${side.repository}${side.path}` : `${side.repository}/${side.name}:${side.tag}`;
}

/** Every blob an entry needs on the far side, with the field that names it. */
export function entryBlobs(entry: BundleEntry): { digest: Digest; size: number; field: string }[] {
  if (entry.kind === 'raw') return [{ digest: entry.digest, size: entry.size, field: 'digest' }];
  return [
    { digest: entry.digest, size: entry.size, field: 'digest' },
    ...entry.manifests.map((m, i) => ({ digest: m.digest, size: m.size, field: `manifests[${i}].digest` })),
    ...entry.blobs.map((b, i) => ({ digest: b.digest, size: b.size, field: `blobs[${i}].digest` })),
    ...entry.referrers.map((r, i) => ({ digest: r.digest, size: r.size, field: `referrers[${i}].digest` })),
  ];
}

/** Rules across fields that the schema alone cannot express. */
function consistencyProblems(manifest: BundleManifest): string[] {
  const problems: string[] = [];
  if (manifest.sequence === 1 && manifest.previous !== null) problems.push('previous: must be null for sequence 1');
  if (manifest.sequence > 1 && manifest.previous === null) {
    problems.push(`previous: must name the previous bundle's manifest digest for sequence ${manifest.sequence}`);
  }
  const included = new Map<Digest, number>();
  manifest.blobs.included.forEach((blob, index) => {
    const first = included.get(blob.digest);
    if (first !== undefined) problems.push(`blobs.included[${index}].digest: duplicate of blobs.included[${first}]`);
    else included.set(blob.digest, index);
  });
  const required = new Map<Digest, number>();
  manifest.blobs.required.forEach((blob, index) => {
    const first = required.get(blob.digest);
    if (first !== undefined) problems.push(`blobs.required[${index}].digest: duplicate of blobs.required[${first}]`);
    else required.set(blob.digest, index);
    const alsoIncluded = included.get(blob.digest);
    if (alsoIncluded !== undefined) {
      problems.push(`blobs.required[${index}].digest: also listed in blobs.included[${alsoIncluded}]`);
    }
    if (blob.shippedIn >= manifest.sequence) {
      problems.push(`blobs.required[${index}].shippedIn: must be an earlier bundle than ${manifest.sequence}`);
    }
  });
  manifest.entries.forEach((entry, index) => {
    for (const needed of entryBlobs(entry)) {
      const at = included.get(needed.digest);
      const req = required.get(needed.digest);
      const blob = at !== undefined ? manifest.blobs.included[at] : req !== undefined ? manifest.blobs.required[req] : undefined;
      if (blob === undefined) {
        problems.push(`entries[${index}].${needed.field}: ${needed.digest} is in neither blobs.included nor blobs.required`);
      } else if (blob.size !== needed.size) {
        problems.push(`entries[${index}].${needed.field}: size ${needed.size} differs from the blob's listed size ${blob.size}`);
      }
    }
    if (entry.kind === 'raw' && entry.checksums.sha256 !== undefined && `sha256:${entry.checksums.sha256}` !== entry.digest) {
      problems.push(`entries[${index}].checksums.sha256: differs from entries[${index}].digest`);
    }
  });
  return problems;
}

/** Checks a manifest object against the schema and the consistency rules. */
export function validateManifest(value: unknown, where: string): BundleManifest {
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    throw new ManifestError(where, issueLines(result.error));
  }
  const problems = consistencyProblems(result.data);
  if (problems.length > 0) throw new ManifestError(where, problems);
  return result.data;
}

/** Parses manifest bytes; errors name `where` and each offending field path. */
export function parseManifest(bytes: Uint8Array, where: string): BundleManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new ManifestError(where, [`larger than ${MAX_MANIFEST_BYTES} bytes`]);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ManifestError(where, [`not valid UTF-8 JSON (${(error as Error).message})`], { cause: error });
  }
  return validateManifest(value, where);
}

/**
 * Deterministic bytes for a manifest: keys in schema order whatever the input's order,
 * two-space indented JSON and a final newline. The signature covers exactly these bytes.
 */
export function serializeManifest(manifest: BundleManifest): Buffer {
  const ordered = {
    format: manifest.format,
    sourceId: manifest.sourceId,
    sequence: manifest.sequence,
    previous: manifest.previous,
    createdAt: manifest.createdAt,
    entries: manifest.entries.map(orderedEntry),
    blobs: {
      included: manifest.blobs.included.map(({ digest, size }) => ({ digest, size })),
      required: manifest.blobs.required.map(({ digest, size, shippedIn }) => ({ digest, size, shippedIn })),
    },
    layout: { index: manifest.layout.index },
  };
  // JSON.stringify drops the undefined checksum keys, keeping the output canonical.
  return Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`, 'utf8');
}

function orderedEntry(entry: BundleEntry): object {
  if (entry.kind === 'raw') {
    return {
      kind: entry.kind,
      source: { repository: entry.source.repository, path: entry.source.path },
      target: { repository: entry.target.repository, path: entry.target.path },
      digest: entry.digest,
      size: entry.size,
      checksums: {
        sha256: entry.checksums.sha256,
        sha1: entry.checksums.sha1,
        md5: entry.checksums.md5,
        sha512: entry.checksums.sha512,
      },
    };
  }
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

/** A bundle's identity and chain link: the digest of its exact manifest bytes. */
export function manifestDigest(bytes: Uint8Array): Digest {
  return sha256Of(bytes);
}

/** `<sourceId>-<sequence zero-padded to 8>.tar`, e.g. `corp-nexus-00000003.tar`. */
export function bundleFileName(sourceId: string, sequence: number): string {
  if (!SOURCE_ID.test(sourceId)) throw new TypeError(`not a valid source id: ${JSON.stringify(sourceId)}`);
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new TypeError(`not a valid bundle sequence: ${sequence}`);
  return `${sourceId}-${String(sequence).padStart(8, '0')}.tar`;
}
