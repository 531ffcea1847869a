/**
 * The bundle manifest (`ferry/manifest.json`): what a bundle carries and where it belongs
 * in its source's chain. It is a public interface, versioned by `format`; the exact rules
 * are written down in docs/bundle-format.md and any change to them needs a format bump.
 */
import * as z from 'zod';
import { sha256Of, type Digest } from '../digest.ts';
import { issueLines } from '../issues.ts';
import { SOURCE_ID } from '../config/names.ts';
import { digestSchema, entryBlobs, entrySchema, orderedEntry, sizeSchema, V1_ENTRY_KINDS, type BundleEntry } from './entries.ts';
import { ManifestError } from './errors.ts';
import { assembledBlobs, partProblems, partSchema } from './parts.ts';

export {
  assetPathProblems,
  coordinatesLabel,
  entryBlobs,
  type BundleEntry,
  type ImageBundleEntry,
  type Maven2BundleEntry,
  type NpmBundleEntry,
  type PackageBundleEntry,
  type PypiBundleEntry,
  type RawBundleEntry,
  type TombstoneBundleEntry,
} from './entries.ts';

/** The first format: raw and image entries only. Still written when a bundle holds nothing else, so older importers read it. */
export const BUNDLE_FORMAT_V1 = 'ferry.bundle.v1';
/** Adds the package entry kinds (maven2, npm, pypi, nuget, helm). */
export const BUNDLE_FORMAT = 'ferry.bundle.v2';
/** Adds `blobs.parts`: blobs larger than the media, split across bundles. */
export const BUNDLE_FORMAT_V3 = 'ferry.bundle.v3';

/** The lowest format version that can express these entries (and parts, when the bundle carries any). */
export function bundleFormatFor(
  entries: readonly Pick<BundleEntry, 'kind'>[],
  parts: readonly unknown[] = [],
): typeof BUNDLE_FORMAT | typeof BUNDLE_FORMAT_V1 | typeof BUNDLE_FORMAT_V3 {
  if (parts.length > 0 || entries.some((entry) => entry.kind === 'tombstone')) return BUNDLE_FORMAT_V3;
  return entries.every((entry) => V1_ENTRY_KINDS.has(entry.kind)) ? BUNDLE_FORMAT_V1 : BUNDLE_FORMAT;
}

/** Upper bound on the manifest's size, so a reader can hold it in memory safely. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;


const manifestSchema = z.strictObject({
  format: z.enum([BUNDLE_FORMAT_V1, BUNDLE_FORMAT, BUNDLE_FORMAT_V3], {
    error: `must be ${BUNDLE_FORMAT_V1}, ${BUNDLE_FORMAT} or ${BUNDLE_FORMAT_V3} (a later Ferry wrote this bundle?)`,
  }),
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
    // ferry.bundle.v3 only: parts of blobs larger than the media (shared/bundle/parts.ts).
    parts: z.array(partSchema).optional(),
  }),
  layout: z.strictObject({ index: digestSchema }),
});

export type BundleManifest = z.output<typeof manifestSchema>;

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
  const parts = manifest.blobs.parts ?? [];
  if (parts.length > 0 && manifest.format !== BUNDLE_FORMAT_V3) problems.push(`blobs.parts: needs format ${BUNDLE_FORMAT_V3}`);
  problems.push(...partProblems(parts, manifest.sequence, new Set(included.keys()), new Set(required.keys())));
  const assembled = new Map(assembledBlobs(parts).map((b) => [b.digest, b]));
  manifest.entries.forEach((entry, index) => {
    for (const needed of entryBlobs(entry)) {
      const at = included.get(needed.digest);
      const req = required.get(needed.digest);
      const blob = at !== undefined ? manifest.blobs.included[at] : req !== undefined ? manifest.blobs.required[req] : assembled.get(needed.digest);
      if (blob === undefined) {
        problems.push(`entries[${index}].${needed.field}: ${needed.digest} is in neither blobs.included nor blobs.required`);
      } else if (blob.size !== needed.size) {
        problems.push(`entries[${index}].${needed.field}: size ${needed.size} differs from the blob's listed size ${blob.size}`);
      }
    }
    if ('checksums' in entry && entry.checksums.sha256 !== undefined && `sha256:${entry.checksums.sha256}` !== entry.digest) {
      problems.push(`entries[${index}].checksums.sha256: differs from entries[${index}].digest`);
    }
    if (entry.kind === 'tombstone' && manifest.format !== BUNDLE_FORMAT_V3) problems.push(`entries[${index}].kind: tombstone entries need format ${BUNDLE_FORMAT_V3}`);
    if (manifest.format === BUNDLE_FORMAT_V1 && !V1_ENTRY_KINDS.has(entry.kind)) {
      problems.push(`entries[${index}].kind: ${entry.kind} entries need format ${BUNDLE_FORMAT}`);
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
      parts: manifest.blobs.parts?.map(({ blob, size, offset, length, digest, shippedIn }) => ({ blob, size, offset, length, digest, shippedIn })),
    },
    layout: { index: manifest.layout.index },
  };
  // JSON.stringify drops the undefined checksum keys, keeping the output canonical.
  return Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`, 'utf8');
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
