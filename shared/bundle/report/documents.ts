/**
 * What a report learns from the image documents a bundle carries, beyond its manifest:
 * the platforms of an index (or of a single image, from its config), BuildKit attestation
 * manifests inside an index, and what each referrer is (signature, attestation, SBOM). The
 * bundle manifest names these documents only by digest; a reader hands their bytes over
 * as it meets them, and what it never had (a manifest shipped in an earlier bundle) is
 * shown as unknown.
 */
import { sha256Of, type Digest } from '../../digest.ts';
import { isIndex, parseImageIndex, parseImageManifest, platformOf, type ImageIndex, type ImageManifest } from '../../oci/media-types.ts';
import type { BundleManifest, ImageBundleEntry } from '../manifest.ts';

/** The OCI limit on a manifest; configs of real images are far smaller. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

type Document = { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest } | { kind: 'config'; platform: string | undefined };

/**
 * The documents of one bundle's image entries, by digest. It asks for tagged manifests and
 * referrers first; a single image's manifest, once added, makes it ask for that image's
 * config (bundles carry a manifest before its config, so one pass over the tar finds both).
 */
export class ImageDocuments {
  readonly #wanted = new Map<Digest, 'tagged' | 'referrer' | 'config'>();
  readonly #documents = new Map<Digest, Document>();

  constructor(manifest: BundleManifest) {
    for (const entry of manifest.entries) {
      if (entry.kind !== 'image') continue;
      this.#wanted.set(entry.digest, 'tagged');
      // A referrers index carried on its own lists its referrers as the entry's manifests.
      const referrers = isReferrerTag(entry.source.tag) ? [...entry.manifests, ...entry.referrers] : entry.referrers;
      for (const referrer of referrers) if (!this.#wanted.has(referrer.digest)) this.#wanted.set(referrer.digest, 'referrer');
    }
  }

  /** Whether a blob of this digest and size is worth reading. */
  wants(digest: Digest, size: number): boolean {
    return size <= MAX_DOCUMENT_BYTES && this.#wanted.has(digest) && !this.#documents.has(digest);
  }

  /** Wanted digests not added yet, for a reader that fetches by digest (call again after each add). */
  missing(): Digest[] {
    return [...this.#wanted.keys()].filter((digest) => !this.#documents.has(digest));
  }

  /** Takes a document's bytes; bytes that do not hash to the digest, or do not parse, are ignored. */
  add(digest: Digest, bytes: Uint8Array): void {
    const role = this.#wanted.get(digest);
    if (role === undefined || bytes.byteLength > MAX_DOCUMENT_BYTES || sha256Of(bytes) !== digest) return;
    const document = parseDocument(role, bytes);
    if (document === undefined) return;
    this.#documents.set(digest, document);
    if (role === 'tagged' && document.kind === 'manifest' && !this.#wanted.has(document.manifest.config.digest)) {
      this.#wanted.set(document.manifest.config.digest, 'config');
    }
  }

  /** The platforms an image entry carries (`linux/amd64`, …), or undefined when its documents are not at hand. */
  platforms(entry: ImageBundleEntry): string[] | undefined {
    const tagged = this.#documents.get(entry.digest);
    if (tagged?.kind === 'index') {
      const travelling = new Set(entry.manifests.map((m) => m.digest));
      return tagged.index.manifests.filter((d) => travelling.has(d.digest) && !isAttestationManifest(d)).map((d) => platformOf(d) ?? 'unknown platform');
    }
    if (tagged?.kind === 'manifest') {
      const config = this.#documents.get(tagged.manifest.config.digest);
      return config?.kind === 'config' && config.platform !== undefined ? [config.platform] : undefined;
    }
    return undefined;
  }

  /** BuildKit attestation manifests inside an image's index, with the platform manifest each one is about. */
  attestationManifests(entry: ImageBundleEntry): { digest: Digest; subject: string | undefined }[] {
    const tagged = this.#documents.get(entry.digest);
    if (tagged?.kind !== 'index') return [];
    const travelling = new Set(entry.manifests.map((m) => m.digest));
    return tagged.index.manifests
      .filter((d) => travelling.has(d.digest) && isAttestationManifest(d))
      .map((d) => ({ digest: d.digest, subject: d.annotations?.['vnd.docker.reference.digest'] }));
  }

  /** The media types and predicate types a referrer declares (its artifact type first), when its manifest is at hand. */
  referrerTypes(digest: Digest): string[] | undefined {
    const document = this.#documents.get(digest);
    if (document?.kind === 'index') return [document.index.artifactType, ...document.index.manifests.map((m) => m.artifactType)].filter((t) => t !== undefined);
    if (document?.kind !== 'manifest') return undefined;
    const { manifest } = document;
    const annotations = [manifest.annotations, ...manifest.layers.map((l) => l.annotations)];
    const predicates = annotations.flatMap((a) => [a?.['dev.cosignproject.cosign/predicateType'], a?.['in-toto.io/predicate-type']]);
    return [manifest.artifactType, manifest.config.mediaType, ...manifest.layers.map((l) => l.mediaType), ...predicates].filter((t) => t !== undefined);
  }
}

/** Cosign's `sha256-<hex>.sig|.att|.sbom` tags and the OCI referrers tag schema `sha256-<hex>`. */
const REFERRER_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

export function isReferrerTag(tag: string): boolean {
  return REFERRER_TAG.test(tag);
}

/** BuildKit stores provenance and SBOM attestations as manifests of the image's index. */
function isAttestationManifest(descriptor: { annotations?: Record<string, string> | undefined }): boolean {
  return descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

function parseDocument(role: 'tagged' | 'referrer' | 'config', bytes: Uint8Array): Document | undefined {
  try {
    const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown; manifests?: unknown; os?: unknown; architecture?: unknown; variant?: unknown };
    if (role === 'config') {
      const platform = typeof json.os === 'string' && typeof json.architecture === 'string' ? [json.os, json.architecture, typeof json.variant === 'string' ? json.variant : undefined].filter(Boolean).join('/') : undefined;
      return { kind: 'config', platform };
    }
    const mediaType = typeof json.mediaType === 'string' ? json.mediaType : '';
    // A document without its own mediaType is an index when it lists manifests.
    if (isIndex(mediaType) || (mediaType === '' && Array.isArray(json.manifests))) return { kind: 'index', index: parseImageIndex(bytes, mediaType, 'report') };
    return { kind: 'manifest', manifest: parseImageManifest(bytes, mediaType, 'report') };
  } catch {
    return undefined;
  }
}
