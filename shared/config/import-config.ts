/** The import side's configuration file (YAML), validated before anything starts. */
import * as z from 'zod';
import { credentialsSchema, serviceUrlSchema } from './credentials.ts';
import { registryEndpointSchema } from './export-config.ts';
import { loadConfigFile, resolveFrom } from './load.ts';
import { repositoryNameSchema } from './names.ts';

const repositoryName = repositoryNameSchema;

export const importConfigSchema = z.strictObject({
  target: z.strictObject({
    url: serviceUrlSchema,
    credentials: credentialsSchema.optional(),
    /** Extra CA certificates (PEM) for a Nexus with a private CA. */
    caFile: z.string().min(1).optional(),
    /** Bundle target repository → repository on this Nexus, where the names differ. */
    repositories: z.record(repositoryName, repositoryName).default({}),
    /** Target docker repository (after mapping) → the registry endpoint serving its `/v2/`. */
    registries: z.record(repositoryName, registryEndpointSchema).default({}),
  }),
  trust: z.strictObject({
    /** Public keys whose bundles are accepted (one per exporting site, or a rotation pair). */
    publicKeyFiles: z.array(z.string().min(1)).min(1, 'at least one trusted public key is needed'),
  }),
  workDir: z.string().min(1).default('.ferry/import'),
  receipts: z
    .strictObject({
      directory: z.string().min(1).optional(),
      /** Signs receipts so the export side can trust what they say the far side holds. */
      signingKeyFile: z.string().min(1).optional(),
    })
    .default({}),
  concurrency: z.number().int().min(1).max(32).default(4),
  /** How long an import waits for an index the target rebuilds after a write (helm's index.yaml) to list what it wrote. */
  indexWaitSeconds: z.number().int().min(0).max(3600).default(60),
});

export type ImportConfig = z.infer<typeof importConfigSchema>;

export interface ResolvedImportConfig extends ImportConfig {
  configFile: string;
  configDir: string;
  receiptsDir: string;
}

export async function loadImportConfig(file: string): Promise<ResolvedImportConfig> {
  const { config, dir } = await loadConfigFile(file, importConfigSchema);
  const workDir = resolveFrom(dir, config.workDir);
  return {
    ...config,
    workDir,
    configFile: file,
    configDir: dir,
    trust: { publicKeyFiles: config.trust.publicKeyFiles.map((f) => resolveFrom(dir, f)) },
    target: {
      ...config.target,
      ...(config.target.caFile ? { caFile: resolveFrom(dir, config.target.caFile) } : {}),
      registries: Object.fromEntries(
        Object.entries(config.target.registries).map(([name, r]) => [name, r.caFile ? { ...r, caFile: resolveFrom(dir, r.caFile) } : r]),
      ),
    },
    receipts: {
      ...config.receipts,
      ...(config.receipts.signingKeyFile ? { signingKeyFile: resolveFrom(dir, config.receipts.signingKeyFile) } : {}),
    },
    receiptsDir: resolveFrom(dir, config.receipts.directory ?? `${workDir}/receipts`),
  };
}
