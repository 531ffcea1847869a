/**
 * zod schemas for the Nexus REST responses Ferry reads, tolerant of both backends and of
 * versions 3.29 – 3.77 (see NEXUS.md): fields added in later versions may be missing,
 * nulls are present, OrientDB paths lack the leading `/`, the SQL store uses `""` where
 * OrientDB uses null, and older versions write offsets as `+0000`. The schemas also
 * normalise, so both backends produce the same records.
 */
import * as z from 'zod';
import type { Checksums } from '../../core/ports/index.ts';

/** Asset paths always start with `/`, whichever backend reported them. */
export function normalizePath(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

/**
 * Nexus timestamps (`…+00:00`, `…+0000`, or any offset) to ISO-8601 UTC with milliseconds
 * (`2025-01-15T10:20:30.123Z`): one form, so timestamps compare as strings. Undefined when
 * the text is not a timestamp.
 */
export function normalizeTimestamp(text: string): string | undefined {
  const fixed = text.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(fixed)) return undefined;
  const ms = Date.parse(fixed);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** `""` (SQL store) and null/missing (OrientDB) both mean "none". */
const optionalText = z
  .string()
  .nullish()
  .transform((value) => (value === undefined || value === null || value === '' ? null : value));

const timestamp = z
  .string()
  .nullish()
  .transform((value, ctx) => {
    if (value === undefined || value === null || value === '') return null;
    const normalized = normalizeTimestamp(value);
    if (normalized === undefined) {
      ctx.issues.push({ code: 'custom', message: `not an ISO-8601 timestamp: ${JSON.stringify(value)}`, input: value });
      return z.NEVER;
    }
    return normalized;
  });

const hex = z
  .string()
  .nullish()
  .transform((value) => (value === undefined || value === null || value === '' ? undefined : value.toLowerCase()));

/** Only the algorithms Ferry verifies; other keys are ignored. May be missing on odd formats. */
const checksumSchema = z
  .object({ sha256: hex, sha1: hex, md5: hex, sha512: hex })
  .nullish()
  .transform((value): Checksums => {
    const out: Checksums = {};
    if (value?.sha256) out.sha256 = value.sha256;
    if (value?.sha1) out.sha1 = value.sha1;
    if (value?.md5) out.md5 = value.md5;
    if (value?.sha512) out.sha512 = value.sha512;
    return out;
  });

export const assetSchema = z
  .object({
    id: z.string(),
    repository: z.string(),
    format: z.string(),
    path: z.string().min(1).transform(normalizePath),
    downloadUrl: z.string().nullish().transform((v) => v ?? null),
    checksum: checksumSchema,
    contentType: optionalText,
    lastModified: timestamp,
    fileSize: z.number().int().nonnegative().nullish().transform((v) => v ?? null),
    blobCreated: timestamp,
  })
  // The format block (`"maven2": {…}`) is named after the format: kept, and read below.
  .loose()
  .transform((a) => ({
    id: a.id,
    repository: a.repository,
    format: a.format,
    path: a.path,
    downloadUrl: a.downloadUrl,
    checksums: a.checksum,
    contentType: a.contentType,
    lastModified: a.lastModified,
    size: a.fileSize,
    blobCreated: a.blobCreated,
    attributes: formatAttributes((a as Record<string, unknown>)[a.format]),
  }));

/** The text values of an asset's format block; other values (numbers, nested objects) are not read. */
function formatAttributes(block: unknown): Record<string, string> | undefined {
  if (typeof block !== 'object' || block === null || Array.isArray(block)) return undefined;
  const text = Object.entries(block).filter((kv): kv is [string, string] => typeof kv[1] === 'string');
  return text.length === 0 ? undefined : Object.fromEntries(text);
}

/** An asset as the client returns it: normalised path, lowercase checksums, UTC timestamps. */
export type NexusAsset = z.output<typeof assetSchema>;

export const componentSchema = z.object({
  id: z.string(),
  repository: z.string(),
  format: z.string(),
  group: optionalText,
  name: z.string(),
  version: optionalText,
  assets: z.array(assetSchema).nullish().transform((v) => v ?? []),
});

export type NexusComponent = z.output<typeof componentSchema>;

const continuationToken = z
  .string()
  .nullish()
  .transform((v) => (v === undefined || v === null || v === '' ? null : v));

export const componentPageSchema = z.object({
  items: z.array(componentSchema),
  continuationToken,
});

export const assetPageSchema = z.object({
  items: z.array(assetSchema),
  continuationToken,
});

export const repositorySchema = z.object({
  name: z.string(),
  format: z.string(),
  /** hosted | proxy | group; kept open in case a version adds another. */
  type: z.string(),
  url: z.string().nullish().transform((v) => v ?? null),
  attributes: z
    .object({
      proxy: z.object({ remoteUrl: z.string().nullish().transform((v) => v ?? null) }).nullish(),
    })
    .loose()
    .nullish()
    .transform((v) => v ?? {}),
});

export type NexusRepository = z.output<typeof repositorySchema>;

export const repositoryListSchema = z.array(repositorySchema);

/**
 * `/v1/repositorySettings`: each repository with `online`, `storage.writePolicy` (hosted
 * only; Nexus writes it in either case, `allow_once` or `ALLOW_ONCE`) and a group's
 * `memberNames`, a maven2 repository's `versionPolicy`. Everything else is ignored.
 */
export const repositorySettingsListSchema = z.array(
  z
    .object({
      name: z.string(),
      format: z.string(),
      type: z.string(),
      online: z.boolean().nullish().transform((v) => v ?? undefined),
      storage: z
        .object({
          writePolicy: z
            .string()
            .nullish()
            .transform((v, ctx): 'allow' | 'allow_once' | 'deny' | undefined => {
              if (v === undefined || v === null) return undefined;
              const policy = v.toLowerCase();
              if (policy === 'allow' || policy === 'allow_once' || policy === 'deny') return policy;
              ctx.issues.push({ code: 'custom', message: `unknown write policy ${JSON.stringify(v)}`, input: v });
              return z.NEVER;
            }),
        })
        .loose()
        .nullish(),
      group: z.object({ memberNames: z.array(z.string()) }).loose().nullish(),
      maven: z.object({ versionPolicy: z.string().nullish() }).loose().nullish(),
    })
    .loose()
    .transform((r) => ({
      name: r.name,
      format: r.format,
      type: r.type,
      online: r.online,
      writePolicy: r.storage?.writePolicy ?? undefined,
      memberNames: r.group?.memberNames ?? [],
      versionPolicy: r.maven?.versionPolicy?.toUpperCase() ?? undefined,
    })),
);

export type NexusRepositorySettings = z.output<typeof repositorySettingsListSchema>[number];

/** Nexus's error body for uploads and validation failures. */
export const nexusMessagesSchema = z.array(z.object({ id: z.string().nullish(), message: z.string() }));
