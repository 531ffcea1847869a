/**
 * The Lambdas' environment contract (infra/ sets exactly these). Parsed with zod at init,
 * so a bad deployment fails before the first event, with the variable named and never
 * its value (ARNs and URLs are not secret, but a message that echoes values invites one
 * that does).
 */
import { z } from 'zod';
import { filterProblems } from '../shared/core/formats/docker/filter.ts';

/** The environment does not satisfy the contract; `variable` is the first one at fault. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`environment variable ${variable}: ${problem}`);
    this.variable = variable;
  }
}

const required = z.string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') }).trim().min(1, 'must not be empty');
const optional = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
const url = required.refine((v) => URL.canParse(v), 'expected an absolute URL');
const integer = <F extends number | undefined>(fallback: F, min: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback as number | F;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `expected an integer of at least ${min}` });
        return z.NEVER;
      }
      return n;
    });

/**
 * Parses a variable's JSON text against `schema`; on failure adds one issue naming the place
 * inside the JSON (`where` formats the path) and returns z.NEVER.
 */
function parseJson<T>(text: string, schema: z.ZodType<T>, ctx: z.RefinementCtx, where: (path: readonly PropertyKey[]) => string): T | typeof z.NEVER {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON' });
    return z.NEVER;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue === undefined ? '' : where(issue.path);
  ctx.addIssue({ code: 'custom', message: `${at ? `${at}: ` : ''}${issue?.message.replace(/^Invalid input: /, '') ?? 'invalid'}` });
  return z.NEVER;
}

const rawRepositorySchema = z.object({
  name: z.string().min(1),
  format: z.literal('raw'),
  target: z.string().min(1).optional(),
});

/** A docker repository: the registry serving it and what to carry (as in the CLI's config). */
const dockerRepositorySchema = z.object({
  name: z.string().min(1),
  format: z.literal('docker'),
  target: z.string().min(1).optional(),
  registry: z.object({
    url: z.url({ protocol: /^https?$/ }),
    /** Secrets Manager secret, JSON `{"username","password"}`; absent: the Nexus secret. */
    secretArn: z.string().min(1).optional(),
  }),
  discovery: z.enum(['nexus', 'registry']).default('nexus'),
  images: z.object({ include: z.string().optional(), exclude: z.string().optional() }).optional(),
  tags: z.object({ include: z.string().optional(), exclude: z.string().optional(), semver: z.string().optional() }).optional(),
  platforms: z.array(z.string()).optional(),
  referrers: z.boolean().default(true),
});

const repositorySchema = z.discriminatedUnion('format', [rawRepositorySchema, dockerRepositorySchema]);

export type DockerRepositoryEnv = z.infer<typeof dockerRepositorySchema>;

/** `FERRY_REPOSITORIES`: JSON `[{"name","format":"raw"|"docker","target"?, …}]`. */
const repositories = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') {
      ctx.addIssue({ code: 'custom', message: 'required' });
      return z.NEVER;
    }
    const parsed = parseJson(text, z.array(repositorySchema).min(1), ctx, (path) =>
      path
        .map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`))
        .join('')
        .replace(/^\./, ''),
    );
    if (parsed === z.NEVER) return z.NEVER;
    for (const [i, r] of parsed.entries()) {
      if (r.format !== 'docker') continue;
      const problems = filterProblems({ images: r.images, tags: r.tags, platforms: r.platforms });
      if (problems.length > 0) {
        ctx.addIssue({ code: 'custom', message: `[${i}].${problems[0]}` });
        return z.NEVER;
      }
    }
    return parsed;
  });

/**
 * `FERRY_REGISTRIES` (import side): JSON `{"<target docker repository>": {"url", "secretArn"?}}`,
 * the registry endpoint serving each docker repository of the target Nexus.
 */
const registries = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') return {};
    const endpoint = z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** Secrets Manager secret, JSON `{"username","password"}`; absent: the target Nexus secret. */
      secretArn: z.string().min(1).optional(),
    });
    // `["docker-hosted"].url`: the repository, then the field
    return parseJson(text, z.record(z.string().min(1), endpoint), ctx, (path) => path.map((k, i) => (i === 0 ? `[${JSON.stringify(String(k))}]` : `.${String(k)}`)).join(''));
  });

const powertools = {
  POWERTOOLS_SERVICE_NAME: required,
  POWERTOOLS_METRICS_NAMESPACE: required,
};

/** Every function on the export side. */
const exportCommon = {
  ...powertools,
  FERRY_SOURCE_ID: required,
  FERRY_TABLE: required,
  FERRY_BUCKET: required,
  FERRY_QUEUE_URL: url,
  FERRY_NEXUS_URL: url,
  /** Secrets Manager secret, JSON `{"username","password"}`; absent: anonymous. */
  FERRY_NEXUS_SECRET_ARN: optional,
  FERRY_REPOSITORIES: repositories,
};

export const webhookEnvSchema = z.object({
  ...exportCommon,
  FERRY_WEBHOOK_SECRET_ARN: required,
  FERRY_WEBHOOK_MAX_BYTES: integer(1_048_576, 1),
  FERRY_IDEMPOTENCY_TABLE: required,
});

export const scanEnvSchema = z.object({
  ...exportCommon,
  FERRY_OVERLAP_SECONDS: integer(600, 0),
});

export const copyEnvSchema = z.object({
  ...exportCommon,
  FERRY_IDEMPOTENCY_TABLE: required,
  /** Both or neither: without them the schedule alone seals. */
  FERRY_SEAL_FUNCTION_NAME: optional,
  FERRY_SEAL_THRESHOLD_BYTES: integer(undefined, 0),
});

export const sealEnvSchema = z.object({
  ...exportCommon,
  FERRY_KMS_KEY_ID: required,
  FERRY_MAX_BUNDLE_BYTES: integer(4 * 1024 ** 3, 64 * 1024),
});

/**
 * `FERRY_REPOSITORY_MAP` (import side): JSON `{"<bundle target repository>": "<repository here>"}`;
 * a repository it does not name keeps its name.
 */
const repositoryMap = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === '') return {};
    const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a Nexus repository name');
    return parseJson(text, z.record(name, name), ctx, (path) => path.map((k) => `[${JSON.stringify(String(k))}]`).join(''));
  });

/** The import side needs none of the export side's variables. */
export const importEnvSchema = z.object({
  ...powertools,
  FERRY_TARGET_URL: url,
  FERRY_TARGET_SECRET_ARN: optional,
  FERRY_IMPORT_TABLE: required,
  FERRY_HELD_BUCKET: required,
  FERRY_TRUSTED_PUBLIC_KEYS: required.refine((v) => v.includes('-----BEGIN PUBLIC KEY-----'), 'expected one or more PEM public keys'),
  FERRY_RECEIPTS_PREFIX: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? 'receipts/' : v.endsWith('/') ? v : `${v}/`)),
  /** Optional: signs receipts with this KMS key so the export side can trust them. */
  FERRY_KMS_KEY_ID: optional,
  FERRY_REPOSITORY_MAP: repositoryMap,
  FERRY_REGISTRIES: registries,
});

export type WebhookEnv = z.output<typeof webhookEnvSchema>;
export type ScanEnv = z.output<typeof scanEnvSchema>;
export type CopyEnv = z.output<typeof copyEnvSchema>;
export type SealEnv = z.output<typeof sealEnvSchema>;
export type ImportEnv = z.output<typeof importEnvSchema>;
export type ExportEnv = WebhookEnv | ScanEnv | CopyEnv | SealEnv;

/** Parses `env` against a function's schema; throws {@link EnvError} naming the first bad variable. */
export function loadEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const variable = String(issue?.path[0] ?? '(environment)');
  const problem = issue === undefined ? 'invalid' : issue.code === 'invalid_type' && env[variable] === undefined ? 'required' : issue.message.replace(/^Invalid input: /, '');
  throw new EnvError(variable, problem);
}
