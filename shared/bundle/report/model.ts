/**
 * What a reviewer reads about a bundle, as data: its place in the chain and who signed it,
 * what crosses per repository and format, what it needs from earlier bundles, which images
 * carry signatures, SBOMs or attestations, and the totals. Pure: the manifest (and the image
 * documents a reader had) in, the model out; render.ts turns it into HTML.
 */
import type { Digest } from '../../digest.ts';
import { isIndex } from '../../oci/media-types.ts';
import { coordinatesLabel, entryBlobs, type BundleEntry, type BundleManifest, type ImageBundleEntry } from '../manifest.ts';
import { ImageDocuments, isReferrerTag } from './documents.ts';
import { assembledBlobs, type BundlePart } from '../parts.ts';

/** How far the report's reader checked the bundle. The HTML itself is never signed. */
export type ReportVerification =
  /** Signature by a trusted key and every blob digest checked while reading. */
  | { status: 'verified'; keyId: string; trustedBy: string }
  /** Written by the export side that signed it, at seal time; nobody checked it since. */
  | { status: 'sealed'; keyId: string; algorithm: string }
  /** Read without checking anything: what the manifest claims. */
  | { status: 'unverified'; keyId: string | undefined; algorithm: string | undefined };

export interface ReportInput {
  manifest: BundleManifest;
  /** The bundle's identity: sha256 of its exact manifest bytes. */
  manifestDigest: Digest;
  bundle: { name: string; size?: number | undefined };
  verification: ReportVerification;
  /** The image documents the reader had (platforms, referrer types); unknown without them. */
  documents?: ImageDocuments | undefined;
  /** An entry in its format's words (`org.example:widget:1.0.0@jar`); default: from its own fields. */
  coordinates?: ((entry: BundleEntry) => string) | undefined;
}

export type Carried = { how: 'included' } | { how: 'required'; from: number[] } | { how: 'partly'; included: number; of: number; from: number[] };

export interface EntryRow {
  index: number;
  kind: BundleEntry['kind'];
  what: string;
  version: string | undefined;
  /** Where it lands, when that differs from where it came from. */
  target: string | undefined;
  details: [string, string][];
  /** Every distinct blob the entry needs (for an image: manifests, configs, layers, referrers). */
  bytes: number;
  digest: Digest;
  carried: Carried;
}

export interface EntryGroup {
  kind: BundleEntry['kind'];
  sourceRepository: string;
  targetRepository: string;
  rows: EntryRow[];
  bytes: number;
}

export type ReferrerKind = 'signature' | 'attestation' | 'SBOM' | 'referrers index' | 'artifact';

export interface SupplyChainRow {
  image: string;
  /** Empty: the image carries none; the reviewer should see that. */
  items: { kind: ReferrerKind; ref: string; digest: Digest; types: string | undefined }[];
  /** For an entry that is itself a late signature or referrers index: the subject it belongs to. */
  subject: string | undefined;
}

export interface RequiredRow {
  digest: Digest;
  size: number;
  shippedIn: number;
  neededBy: string[];
}

export interface ReportModel {
  bundleName: string;
  bundleSize: number | undefined;
  format: string;
  sourceId: string;
  sequence: number;
  previous: Digest | null;
  createdAt: string;
  manifestDigest: Digest;
  layoutIndex: Digest;
  verification: ReportVerification;
  groups: EntryGroup[];
  supplyChain: SupplyChainRow[];
  required: RequiredRow[];
  /** Blobs carried that no entry needs: sent again because the far side asked (a resend request). */
  resent: { digest: Digest; size: number }[];
  /** Parts of blobs bigger than the media (`blobs.parts`): those carried here, and earlier ones of the same blobs. */
  parts: BundlePart[];
  totals: {
    entries: number;
    byKind: [BundleEntry['kind'], number][];
    repositories: number;
    included: { count: number; bytes: number };
    required: { count: number; bytes: number };
    /** Distinct blobs the entries need, wherever they travel. */
    content: number;
  };
}

const sum = (values: number[]) => values.reduce((n, v) => n + v, 0);

export function reportModel(input: ReportInput): ReportModel {
  const { manifest } = input;
  const documents = input.documents ?? new ImageDocuments(manifest);
  // A blob whose last part this bundle carries counts as carried here.
  const included = new Map([...manifest.blobs.included, ...assembledBlobs(manifest.blobs.parts)].map((b) => [b.digest, b.size]));
  const requiredFrom = new Map(manifest.blobs.required.map((b) => [b.digest, b.shippedIn]));
  const rows = manifest.entries.map((entry, index) => entryRow(entry, index, { included, requiredFrom, documents, coordinates: input.coordinates }));
  const needed = new Set(manifest.entries.flatMap((e) => entryBlobs(e).map((b) => b.digest)));
  const allBlobs = new Map([...manifest.blobs.included, ...manifest.blobs.required].map((b) => [b.digest, b.size]));
  return {
    bundleName: input.bundle.name,
    bundleSize: input.bundle.size,
    format: manifest.format,
    sourceId: manifest.sourceId,
    sequence: manifest.sequence,
    previous: manifest.previous,
    createdAt: manifest.createdAt,
    manifestDigest: input.manifestDigest,
    layoutIndex: manifest.layout.index,
    verification: input.verification,
    groups: groupRows(manifest.entries, rows),
    supplyChain: supplyChain(manifest.entries, documents),
    required: manifest.blobs.required.map((b) => ({
      digest: b.digest,
      size: b.size,
      shippedIn: b.shippedIn,
      neededBy: manifest.entries.flatMap((e, i) => (entryBlobs(e).some((n) => n.digest === b.digest) ? [`#${i + 1} ${rows[i]!.what}`] : [])),
    })),
    resent: manifest.blobs.included.filter((b) => !needed.has(b.digest)),
    parts: manifest.blobs.parts ?? [],
    totals: {
      entries: manifest.entries.length,
      byKind: [...countBy(manifest.entries.map((e) => e.kind))],
      repositories: new Set(manifest.entries.map((e) => e.source.repository)).size,
      included: { count: manifest.blobs.included.length, bytes: sum(manifest.blobs.included.map((b) => b.size)) },
      required: { count: manifest.blobs.required.length, bytes: sum(manifest.blobs.required.map((b) => b.size)) },
      content: sum([...needed].map((d) => allBlobs.get(d) ?? 0)),
    },
  };
}

function countBy<T>(values: T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

interface RowContext {
  included: Map<Digest, number>;
  requiredFrom: Map<Digest, number>;
  documents: ImageDocuments;
  coordinates: ReportInput['coordinates'];
}

function entryRow(entry: BundleEntry, index: number, context: RowContext): EntryRow {
  const blobs = [...new Map(entryBlobs(entry).map((b) => [b.digest, b.size]))];
  const inBundle = blobs.filter(([d]) => context.included.has(d)).length;
  const from = [...new Set(blobs.flatMap(([d]) => (context.requiredFrom.has(d) ? [context.requiredFrom.get(d)!] : [])))].sort((a, b) => a - b);
  const carried: Carried = inBundle === blobs.length ? { how: 'included' } : inBundle === 0 ? { how: 'required', from } : { how: 'partly', included: inBundle, of: blobs.length, from };
  const source = coordinatesLabel(entry.source);
  const target = coordinatesLabel(entry.target);
  return {
    index,
    kind: entry.kind,
    what: context.coordinates?.(entry) ?? defaultWhat(entry),
    version: entry.kind === 'image' ? entry.source.tag : entry.kind === 'raw' || entry.kind === 'tombstone' ? undefined : entry.component.version,
    target: source === target ? undefined : target,
    details: details(entry, context.documents),
    bytes: sum(blobs.map(([, size]) => size)),
    digest: entry.digest,
    carried,
  };
}

function defaultWhat(entry: BundleEntry): string {
  if (entry.kind === 'raw') return entry.source.path;
  if (entry.kind === 'image') return `${entry.source.name}:${entry.source.tag}`;
  if (entry.kind === 'tombstone') return `delete ${coordinatesLabel(entry.target)}`;
  const { group, name, version } = entry.component;
  return `${group === null ? '' : `${group}:`}${name}:${version}`;
}

/** Per kind, what a reviewer needs besides name, size and digest. */
function details(entry: BundleEntry, documents: ImageDocuments): [string, string][] {
  switch (entry.kind) {
    case 'raw':
      return checksumDetails(entry.checksums);
    case 'image': {
      const platforms = documents.platforms(entry);
      return [
        ['type', mediaTypeName(entry.mediaType)],
        ['platforms', platforms === undefined ? 'unknown (its manifest is not in this bundle)' : platforms.length === 0 ? 'none listed' : platforms.join(', ')],
        ['blobs', `${entry.manifests.length} child manifest(s), ${entry.blobs.length} config(s) and layer(s), ${entry.referrers.length} referrer(s)`],
      ];
    }
    case 'maven2':
      return [['file', entry.source.path], ['extension', entry.maven.extension], ...(entry.maven.classifier === null ? [] : [['classifier', entry.maven.classifier] as [string, string]]), ...checksumDetails(entry.checksums)];
    case 'npm': {
      const tags = Object.entries(entry.distTags).map(([tag, version]) => `${tag} → ${version}`);
      return [['file', entry.source.path], ['dist-tags', tags.length === 0 ? 'none' : tags.join(', ')], ...checksumDetails(entry.checksums)];
    }
    case 'tombstone':
      // Deleted on the source: the target deletes it only if Ferry imported it and it is unchanged.
      return [['deletes', `${entry.of} ${coordinatesLabel(entry.target)}`], ['if its content is still', entry.digest]];
    case 'pypi':
      return [['file', entry.source.path], ['signature', entry.signature === null ? 'none' : `${entry.signature.digest} (${entry.signature.size} bytes)`], ...checksumDetails(entry.checksums)];
    default:
      return [['file', entry.source.path], ...checksumDetails(entry.checksums)];
  }
}

function checksumDetails(checksums: Partial<Record<'sha1' | 'md5' | 'sha256' | 'sha512', string>>): [string, string][] {
  return (['sha1', 'md5', 'sha512'] as const).flatMap((k) => (checksums[k] === undefined ? [] : [[k, checksums[k]] as [string, string]]));
}

const MEDIA_TYPE_NAMES: Record<string, string> = {
  'application/vnd.oci.image.index.v1+json': 'OCI index',
  'application/vnd.oci.image.manifest.v1+json': 'OCI image manifest',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker image manifest',
};

function mediaTypeName(mediaType: string): string {
  return MEDIA_TYPE_NAMES[mediaType] ?? mediaType;
}

/** Entries by format and repository (source → target), in first-seen order. */
function groupRows(entries: BundleEntry[], rows: EntryRow[]): EntryGroup[] {
  const groups = new Map<string, EntryGroup>();
  entries.forEach((entry, i) => {
    const key = JSON.stringify([entry.kind, entry.source.repository, entry.target.repository]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { kind: entry.kind, sourceRepository: entry.source.repository, targetRepository: entry.target.repository, rows: [], bytes: 0 };
      groups.set(key, group);
    }
    group.rows.push(rows[i]!);
    group.bytes += rows[i]!.bytes;
  });
  return [...groups.values()];
}

/** Every image entry with the signatures, attestations and SBOMs that travel with it. */
function supplyChain(entries: BundleEntry[], documents: ImageDocuments): SupplyChainRow[] {
  const images = entries.filter((e): e is ImageBundleEntry => e.kind === 'image');
  return images.map((entry) => {
    const image = `${entry.source.repository}/${entry.source.name}:${entry.source.tag}`;
    const referrers = isReferrerTag(entry.source.tag) ? [{ ...entry, tag: entry.source.tag }, ...(isIndex(entry.mediaType) ? entry.manifests : [])] : entry.referrers;
    const items = [
      ...referrers.map((r) => {
        const types = documents.referrerTypes(r.digest);
        return { kind: referrerKind('tag' in r ? r.tag : undefined, r.mediaType, types), ref: ('tag' in r ? r.tag : undefined) ?? 'referrer (by digest)', digest: r.digest, types: types === undefined ? undefined : [...new Set(types)].join(', ') };
      }),
      ...documents.attestationManifests(entry).map((a) => ({
        kind: 'attestation' as const,
        ref: 'BuildKit attestation manifest',
        digest: a.digest,
        types: a.subject === undefined ? undefined : `about ${a.subject}`,
      })),
    ];
    const subjectHex = isReferrerTag(entry.source.tag) ? entry.source.tag.slice(7, 71) : undefined;
    const subjectEntry = subjectHex === undefined ? undefined : images.find((e) => e.digest === `sha256:${subjectHex}`);
    const subject = subjectHex === undefined ? undefined : subjectEntry !== undefined ? `${subjectEntry.source.name}:${subjectEntry.source.tag} (sha256:${subjectHex})` : `sha256:${subjectHex} (crossed in an earlier bundle)`;
    return { image, items, subject };
  });
}

/** A referrer by its cosign tag suffix, else by the types its manifest declares. */
export function referrerKind(tag: string | undefined, mediaType: string, types: string[] | undefined): ReferrerKind {
  if (tag?.endsWith('.sig')) return 'signature';
  if (tag?.endsWith('.att')) return 'attestation';
  if (tag?.endsWith('.sbom')) return 'SBOM';
  if (isIndex(mediaType)) return 'referrers index';
  const declared = (types ?? []).join(' ').toLowerCase();
  if (/spdx|cyclonedx|sbom|syft/.test(declared)) return 'SBOM';
  if (/in-toto|dsse|attestation|provenance|slsa|vuln/.test(declared)) return 'attestation';
  if (/signature|cosign|notary|sigstore/.test(declared)) return 'signature';
  return 'artifact';
}
