/** The export side's configuration file (YAML), validated before anything starts. */
import * as z from 'zod';
import { credentialsSchema, serviceUrlSchema } from './credentials.ts';
import { loadConfigFile, resolveFrom } from './load.ts';
import { sourceIdSchema } from './names.ts';
import { EXPORT_DEFAULTS, repositorySchemas } from './repositories.ts';
import { serveConfigSchema } from './serve-config.ts';

/** `4GiB`, `650MB`, `1048576`: media sizes are easier to read with units. */
export const byteSize = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/.exec(value);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'expected a size such as 4GiB, 700MB or a number of bytes' });
    return z.NEVER;
  }
  const units: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
  return Math.floor(Number(match[1]) * units[match[2] ?? 'B']!);
});

/** The registry endpoint that serves a docker repository's `/v2/` (Nexus connector, path routing, or any OCI registry). */
export const registryEndpointSchema = z.strictObject({
  url: serviceUrlSchema,
  /** Defaults to the source's credentials when it names none. */
  credentials: credentialsSchema.optional(),
  /** Extra CA certificates (PEM) for a registry with a private CA. */
  caFile: z.string().min(1).optional(),
  /**
   * Largest request body when Ferry pushes a blob here (import targets): set it when a proxy
   * in front of the registry limits bodies (nginx `client_max_body_size`). Unset, each blob
   * goes in one request, as `docker push` and skopeo send it.
   */
  uploadChunkSize: byteSize.optional(),
  /**
   * Import targets: stream big image layers into upload sessions while the bundle is
   * verified, committed only once it all checked out (default). False: nothing reaches the
   * registry before the whole bundle verified, at the cost of a second pass over its bytes.
   */
  uploadWhileVerifying: z.boolean().default(true),
});

const repositories = repositorySchemas(registryEndpointSchema);

export type RawRepositoryConfig = z.output<typeof repositories.raw>;
export type DockerRepositoryConfig = z.output<typeof repositories.docker>;

export const exportConfigSchema = z.strictObject({
  sourceId: sourceIdSchema,
  source: z.strictObject({
    url: serviceUrlSchema,
    credentials: credentialsSchema.optional(),
    /** Extra CA certificates (PEM) for a Nexus with a private CA. */
    caFile: z.string().min(1).optional(),
    repositories: z.array(repositories.repository).min(1, 'at least one repository is needed'),
  }),
  workDir: z.string().min(1).default('.ferry/export'),
  bundles: z
    .strictObject({
      /** Where sealed bundles appear for ops to carry across; defaults to <workDir>/bundles. */
      directory: z.string().min(1).optional(),
      maxBytes: byteSize.default(EXPORT_DEFAULTS.maxBundleBytes),
    })
    .default({ maxBytes: EXPORT_DEFAULTS.maxBundleBytes }),
  signing: z.strictObject({ privateKeyFile: z.string().min(1) }),
  scan: z
    .strictObject({
      /** Look this far behind the watermark: absorbs clock skew and slow commits on the Nexus side. */
      overlapSeconds: z.number().int().min(0).default(EXPORT_DEFAULTS.overlapSeconds),
      concurrency: z.number().int().min(1).max(16).default(EXPORT_DEFAULTS.scanConcurrency),
    })
    .default({ overlapSeconds: EXPORT_DEFAULTS.overlapSeconds, concurrency: EXPORT_DEFAULTS.scanConcurrency }),
  receipts: z
    .strictObject({
      /** Keys of import sides whose signed receipts `ferry receipt apply` accepts; empty accepts unsigned ones. */
      trustedPublicKeyFiles: z.array(z.string().min(1)).default([]),
    })
    .default({ trustedPublicKeyFiles: [] }),
  copy: z
    .strictObject({
      concurrency: z.number().int().min(1).max(64).default(4),
      maxAttempts: z.number().int().min(1).max(20).default(5),
    })
    .default({ concurrency: 4, maxAttempts: 5 }),
  /** `ferry serve`: the webhook listener and its schedules. */
  serve: serveConfigSchema,
});

export type ExportConfig = z.infer<typeof exportConfigSchema>;

/** The config with every path made absolute against the config file's directory. */
export interface ResolvedExportConfig extends ExportConfig {
  configFile: string;
  configDir: string;
  bundlesDir: string;
}

export async function loadExportConfig(file: string): Promise<ResolvedExportConfig> {
  const { config, dir } = await loadConfigFile(file, exportConfigSchema);
  const workDir = resolveFrom(dir, config.workDir);
  return {
    ...config,
    workDir,
    configFile: file,
    configDir: dir,
    bundlesDir: resolveFrom(dir, config.bundles.directory ?? `${workDir}/bundles`),
    signing: { privateKeyFile: resolveFrom(dir, config.signing.privateKeyFile) },
    source: {
      ...config.source,
      ...(config.source.caFile ? { caFile: resolveFrom(dir, config.source.caFile) } : {}),
      repositories: config.source.repositories.map((r) =>
        r.format === 'docker' && r.registry.caFile ? { ...r, registry: { ...r.registry, caFile: resolveFrom(dir, r.registry.caFile) } } : r,
      ),
    },
    receipts: { trustedPublicKeyFiles: config.receipts.trustedPublicKeyFiles.map((f) => resolveFrom(dir, f)) },
  };
}
