/**
 * Media types of the OCI image spec and Docker's image manifest v2 schema 2, and parsers
 * for the two documents Ferry walks: an image manifest and an index (manifest list).
 * Parsers are tolerant of extra fields (registries and builders add their own) and only
 * insist on what a copy needs: the descriptors to follow.
 */
import * as z from 'zod';
import { isDigest, type Digest } from '../digest.ts';
import { issueLines } from '../issues.ts';
import { OciDocumentError } from './errors.ts';

// ───────────────────────────── Docker ─────────────────────────────

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_FOREIGN_LAYER_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

// ───────────────────────────── OCI ─────────────────────────────

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** The empty descriptor's media type (`{}`), used as config of OCI 1.1 artifacts. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Manifest media types Ferry asks for, in the order of the `Accept` header. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST];

export function isIndex(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

export function isImageManifest(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

// ───────────────────────────── documents ─────────────────────────────

export interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
  'os.version'?: string | undefined;
  'os.features'?: string[] | undefined;
}

export interface OciDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string> | undefined;
  platform?: Platform | undefined;
  artifactType?: string | undefined;
  urls?: string[] | undefined;
}

export interface ImageManifest {
  mediaType: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
  subject?: OciDescriptor | undefined;
  artifactType?: string | undefined;
  annotations?: Record<string, string> | undefined;
}

export interface ImageIndex {
  mediaType: string;
  manifests: OciDescriptor[];
  subject?: OciDescriptor | undefined;
  artifactType?: string | undefined;
  annotations?: Record<string, string> | undefined;
}

const digestSchema = z
  .string()
  .refine((value) => isDigest(value), { message: 'expected a sha256:<64 hex> digest' })
  .transform((value) => value as Digest);

const platformSchema = z.looseObject({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
});

const descriptorSchema = z.looseObject({
  mediaType: z.string().min(1),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
  urls: z.array(z.string()).optional(),
});

const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new OciDocumentError(where, ['(root): not JSON'], { cause: error });
  }
}

/** The JSON's own `mediaType` must agree with the one the registry declared, when both exist. */
function checkMediaType(declared: string, inJson: string | undefined, where: string): string {
  if (inJson !== undefined && declared !== '' && inJson !== declared) {
    throw new OciDocumentError(where, [`mediaType: ${JSON.stringify(inJson)} disagrees with the declared ${JSON.stringify(declared)}`]);
  }
  return inJson ?? declared;
}

function clean(descriptor: z.infer<typeof descriptorSchema>): OciDescriptor {
  const out: OciDescriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
  if (descriptor.annotations !== undefined) out.annotations = descriptor.annotations;
  if (descriptor.platform !== undefined) out.platform = descriptor.platform;
  if (descriptor.artifactType !== undefined) out.artifactType = descriptor.artifactType;
  if (descriptor.urls !== undefined) out.urls = descriptor.urls;
  return out;
}

/**
 * Parses an image manifest (OCI or Docker schema 2). `where` names it in errors
 * (e.g. `library/alpine@sha256:…`).
 */
export function parseImageManifest(bytes: Uint8Array, mediaType: string, where: string): ImageManifest {
  if (isIndex(mediaType)) throw new OciDocumentError(where, [`(root): ${mediaType} is an index, not an image manifest`]);
  const parsed = manifestSchema.safeParse(parseJson(bytes, where));
  if (!parsed.success) throw new OciDocumentError(where, issueLines(parsed.error), { cause: parsed.error });
  const data = parsed.data;
  const manifest: ImageManifest = {
    mediaType: checkMediaType(mediaType, data.mediaType, where),
    config: clean(data.config),
    layers: data.layers.map(clean),
  };
  if (data.subject !== undefined) manifest.subject = clean(data.subject);
  if (data.artifactType !== undefined) manifest.artifactType = data.artifactType;
  if (data.annotations !== undefined) manifest.annotations = data.annotations;
  return manifest;
}

/** Parses an OCI image index or a Docker manifest list. */
export function parseImageIndex(bytes: Uint8Array, mediaType: string, where: string): ImageIndex {
  if (isImageManifest(mediaType)) throw new OciDocumentError(where, [`(root): ${mediaType} is an image manifest, not an index`]);
  const parsed = indexSchema.safeParse(parseJson(bytes, where));
  if (!parsed.success) throw new OciDocumentError(where, issueLines(parsed.error), { cause: parsed.error });
  const data = parsed.data;
  const index: ImageIndex = {
    mediaType: checkMediaType(mediaType, data.mediaType, where),
    manifests: data.manifests.map(clean),
  };
  if (data.subject !== undefined) index.subject = clean(data.subject);
  if (data.artifactType !== undefined) index.artifactType = data.artifactType;
  if (data.annotations !== undefined) index.annotations = data.annotations;
  return index;
}

/** `os/arch[/variant]`, e.g. `linux/arm64/v8`; undefined when the descriptor names no platform. */
export function platformOf(descriptor: { platform?: Platform | undefined }): string | undefined {
  const p = descriptor.platform;
  if (p === undefined) return undefined;
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}
