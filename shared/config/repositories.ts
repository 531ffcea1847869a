/**
 * The one model of a carried repository and of the export settings, used by the YAML
 * config (`export.yaml`), the sync definitions of a deployment (definitions.ts), the CDK props and,
 * through {@link exporterSettingsOf}, by every entry point that builds an exporter. The two
 * shapes differ only in how a registry's credentials are named: a config file names an
 * environment variable or file, a deployment a Secrets Manager ARN.
 */
import * as z from 'zod';
import type { ExporterSettings } from '../core/export/exporter.ts';
import type { ScanRepository } from '../core/export/scan.ts';
import { filterProblems, type ImageFilter } from '../core/formats/docker/filter.ts';
import { PACKAGE_FORMATS, type PackageFormat } from '../core/ports/index.ts';
import { urlWithoutCredentials } from './credentials.ts';
import { platformSchema, repositoryNameSchema } from './names.ts';

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
/** A Secrets Manager secret named by its full ARN (JSON `{"username","password"}`). */
export const secretArnSchema = z.string().regex(SECRET_ARN, 'must be the full ARN of a Secrets Manager secret');

/** A registry endpoint as a deployment names it (CDK props, sync definitions, `FERRY_REGISTRIES`). */
export const deployedRegistrySchema = z.strictObject({
  url: urlWithoutCredentials('name a Secrets Manager secret (secretArn)'),
  /** Credentials; absent: the Nexus secret of the same side. */
  secretArn: secretArnSchema.optional(),
  /** Import targets: big layers go into upload sessions while the bundle verifies (default true; see staged-uploads.ts). */
  uploadWhileVerifying: z.boolean().optional(),
});

/** Repositories as a deployment carries them. */
export const deployedRepositories = () => repositorySchemas(deployedRegistrySchema);

/** One set of defaults for every entry point (CLI and Lambdas). */
export const EXPORT_DEFAULTS = {
  overlapSeconds: 600,
  scanConcurrency: 4,
  maxBundleBytes: 4 * 2 ** 30,
} as const;

/** Schemas of a carried repository, with `registry` as the deployment or the config file names it. */
export function repositorySchemas<E extends z.ZodType>(registryEndpoint: E) {
  /** `carry`: a deletion on the source becomes a tombstone the far side applies (to what Ferry imported, unchanged); default off. */
  const deletions = z.enum(['carry', 'ignore'], { error: 'must be carry or ignore' }).optional();
  const raw = z.strictObject({
    name: repositoryNameSchema,
    format: z.literal('raw'),
    /** Repository on the far side; defaults to the same name. */
    target: repositoryNameSchema.optional(),
    deletions,
  });
  const docker = z
    .strictObject({
      name: repositoryNameSchema,
      format: z.literal('docker'),
      target: repositoryNameSchema.optional(),
      /** The endpoint serving this repository's `/v2/` (a Nexus connector, path routing, any OCI registry). */
      registry: registryEndpoint.optional(),
      /** `nexus`: the components API (name = image, version = tag); `registry`: the catalog and tags lists. */
      discovery: z.enum(['nexus', 'registry']).default('nexus'),
      /** Regular expressions over image names and tags, and a semver range (checked by filterProblems). */
      images: z.strictObject({ include: z.string().optional(), exclude: z.string().optional() }).optional(),
      tags: z.strictObject({ include: z.string().optional(), exclude: z.string().optional(), semver: z.string().optional() }).optional(),
      /** Platforms to keep from multi-platform indexes (the index is then rewritten); default all. */
      platforms: z.array(platformSchema).min(1).optional(),
      /** Carry cosign signature/attestation/SBOM tags and OCI referrers with their subject. */
      referrers: z.boolean().default(true),
      deletions,
    })
    .superRefine((repository, ctx) => {
      if (repository.registry === undefined) ctx.addIssue({ code: 'custom', path: ['registry'], message: 'required for a docker repository ({url, …})' });
      for (const problem of filterProblems({ images: repository.images, tags: repository.tags })) {
        const [field, message] = problem.split(/: (.*)/s) as [string, string];
        ctx.addIssue({ code: 'custom', path: field.split('.'), message });
      }
    })
    .transform((repository) => ({ ...repository, registry: repository.registry as z.output<E> }));
  /** maven2, npm, pypi, nuget, helm: hosted or proxy, or a group (scanned as its members). */
  const packages = z.strictObject({
    name: repositoryNameSchema,
    format: z.enum(PACKAGE_FORMATS),
    /** A hosted repository on the far side; defaults to the same name. */
    target: repositoryNameSchema.optional(),
    deletions,
  });
  const repository = z.discriminatedUnion('format', [raw, docker, packages], { error: `must be one of raw, docker, ${PACKAGE_FORMATS.join(', ')}` });
  return { raw, docker, packages, repository };
}

/** A carried repository as any entry point holds it (registry credentials aside). */
export type RepositoryModel =
  | { name: string; format: 'raw' | PackageFormat; target?: string | undefined; deletions?: 'carry' | 'ignore' | undefined }
  | {
      name: string;
      format: 'docker';
      target?: string | undefined;
      deletions?: 'carry' | 'ignore' | undefined;
      discovery: 'nexus' | 'registry';
      images?: { include?: string | undefined; exclude?: string | undefined } | undefined;
      tags?: { include?: string | undefined; exclude?: string | undefined; semver?: string | undefined } | undefined;
      platforms?: string[] | undefined;
      referrers: boolean;
    };

/** The one mapping from configured repositories to the exporter's settings. */
export function exporterSettingsOf(
  sourceId: string,
  repositories: readonly RepositoryModel[],
  options: { overlapSeconds?: number | undefined; scanConcurrency?: number | undefined; maxBundleBytes?: number | undefined } = {},
): ExporterSettings {
  return {
    sourceId,
    repositories: repositories.map(scanRepositoryOf),
    overlapMs: (options.overlapSeconds ?? EXPORT_DEFAULTS.overlapSeconds) * 1000,
    scanConcurrency: options.scanConcurrency ?? EXPORT_DEFAULTS.scanConcurrency,
    maxBundleBytes: options.maxBundleBytes ?? EXPORT_DEFAULTS.maxBundleBytes,
  };
}

export function scanRepositoryOf(r: RepositoryModel): ScanRepository {
  // Only set when on, so repositories without it compare (and serialise) as before.
  const carry = r.deletions === 'carry' ? { carryDeletions: true } : {};
  if (r.format !== 'docker') return { name: r.name, format: r.format, target: r.target ?? r.name, ...carry } as ScanRepository;
  return { name: r.name, format: 'docker', target: r.target ?? r.name, discovery: r.discovery, filter: imageSettingsOf(r).filter, referrers: r.referrers, ...carry };
}

/** What an image copy of this repository carries. */
export function imageSettingsOf(r: Extract<RepositoryModel, { format: 'docker' }>): { filter: ImageFilter; referrers: boolean } {
  return { filter: { images: r.images, tags: r.tags, platforms: r.platforms }, referrers: r.referrers };
}
