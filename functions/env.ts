/**
 * The Lambdas' environment contract (infra/ sets exactly these). Parsed with zod at init,
 * so a bad deployment fails before the first event, with the variable named and never
 * its value (ARNs and URLs are not secret, but a message that echoes values invites one
 * that does).
 */
import { z } from 'zod';
import { repositoryNameSchema, sourceIdSchema } from '../shared/config/names.ts';
import { deployedRegistrySchema, deployedRepositories } from '../shared/config/repositories.ts';

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

const { repository: repositorySchema, docker: dockerRepositorySchema } = deployedRepositories();

export type DockerRepositoryEnv = z.output<typeof dockerRepositorySchema>;

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
    // `["docker-hosted"].url`: the repository, then the field
    return parseJson(text, z.record(repositoryNameSchema, deployedRegistrySchema), ctx, (path) => path.map((k, i) => (i === 0 ? `[${JSON.stringify(String(k))}]` : `.${String(k)}`)).join(''));
  });

const powertools = {
  POWERTOOLS_SERVICE_NAME: required,
  POWERTOOLS_METRICS_NAMESPACE: required,
};

/** Every function on the export side. */
const exportCommon = {
  ...powertools,
  FERRY_SOURCE_ID: sourceIdSchema,
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
    return parseJson(text, z.record(repositoryNameSchema, repositoryNameSchema), ctx, (path) => path.map((k) => `[${JSON.stringify(String(k))}]`).join(''));
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
