/**
 * The Lambdas' environment contract (infra/ sets exactly these). Parsed with zod at init,
 * so a bad deployment fails before the first event, with the variable named and never
 * its value (ARNs and URLs are not secret, but a message that echoes values invites one
 * that does).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { toDotPath } from 'zod/v4/core';
import { repositoryNameSchema, sourceIdSchema } from '../shared/config/names.ts';
import { deployedRegistrySchema } from '../shared/config/repositories.ts';
import { ConfigError } from '../shared/config/errors.ts';
import { issueMessage } from '../shared/issues.ts';
import { algorithmOf } from '../shared/signing.ts';

/** The environment does not satisfy the contract; `variable` is the first one at fault. */
export class EnvError extends ConfigError {
  override readonly name = 'EnvError';
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(undefined, [`environment variable ${variable}: ${problem}`]);
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

/** A variable holding JSON: `schema`'s issues keep their path inside it (`FERRY_REGISTRIES: docker-hosted.url: …`). */
function json<T>(schema: z.ZodType<T>, whenEmpty?: T) {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') {
        if (whenEmpty !== undefined) return whenEmpty;
        ctx.addIssue({ code: 'custom', message: 'required' });
        return z.NEVER;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not JSON' });
        return z.NEVER;
      }
      const parsed = schema.safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
      return z.NEVER;
    });
}

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
  // The carried repositories are not here: they are the sync definitions in FERRY_TABLE.
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

/** The definitions API (Function URL): the state table and the source whose definitions it manages. */
export const definitionsEnvSchema = z.object({
  ...powertools,
  FERRY_SOURCE_ID: sourceIdSchema,
  FERRY_TABLE: required,
  /** The functions read registry secrets whose ARN starts with this (infra: registrySecretPrefix)… */
  FERRY_REGISTRY_SECRET_ARN_PREFIX: required,
  /** …and these, named at deploy (comma-separated). */
  FERRY_REGISTRY_SECRET_ARNS: z.string().optional(),
});

export const sealEnvSchema = z.object({
  ...exportCommon,
  FERRY_KMS_KEY_ID: required,
  FERRY_MAX_BUNDLE_BYTES: integer(4 * 1024 ** 3, 64 * 1024),
});

/** The import side needs none of the export side's variables. */
export const importEnvSchema = z.object({
  ...powertools,
  FERRY_TARGET_URL: url,
  FERRY_TARGET_SECRET_ARN: optional,
  FERRY_IMPORT_TABLE: required,
  FERRY_HELD_BUCKET: required,
  /** Checked for PEM here; {@link trustedPublicKeys} makes keys of it. */
  FERRY_TRUSTED_PUBLIC_KEYS: required.refine((v) => v.includes('-----BEGIN PUBLIC KEY-----'), 'expected one or more PEM public keys'),
  FERRY_RECEIPTS_PREFIX: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? 'receipts/' : v.endsWith('/') ? v : `${v}/`)),
  /** Optional: signs receipts with this KMS key so the export side can trust them. */
  FERRY_KMS_KEY_ID: optional,
  /** JSON `{"<bundle target repository>": "<repository here>"}`; a repository it does not name keeps its name. */
  FERRY_REPOSITORY_MAP: json(z.record(repositoryNameSchema, repositoryNameSchema), {}),
  /** JSON `{"<target docker repository>": {"url", "secretArn"?}}`: the registry serving each docker repository of the target. */
  FERRY_REGISTRIES: json(z.record(repositoryNameSchema, deployedRegistrySchema), {}),
});

export type WebhookEnv = z.output<typeof webhookEnvSchema>;
export type ScanEnv = z.output<typeof scanEnvSchema>;
export type CopyEnv = z.output<typeof copyEnvSchema>;
export type SealEnv = z.output<typeof sealEnvSchema>;
export type DefinitionsEnv = z.output<typeof definitionsEnvSchema>;
export type ImportEnv = z.output<typeof importEnvSchema>;
export type ExportEnv = WebhookEnv | ScanEnv | CopyEnv | SealEnv;

/** Parses `env` against a function's schema; throws {@link EnvError} naming the first bad variable. */
export function loadEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue === undefined) throw new EnvError('(environment)', 'invalid');
  // The variable, then the place inside its JSON value (if any), as every parser of Ferry reports it.
  const [variable, ...inside] = issue.path;
  const at = toDotPath(inside);
  throw new EnvError(String(variable ?? '(environment)'), `${at ? `${at}: ` : ''}${issueMessage(issue)}`);
}

/**
 * `FERRY_TRUSTED_PUBLIC_KEYS`, concatenated PEM public keys, as keys; each must be ed25519
 * or ECDSA P-256. Apart from the schema: its check is only that PEM is there.
 */
export function trustedPublicKeys(pem: string): KeyObject[] {
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  return blocks.map((block, index) => {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: block, format: 'pem' });
    } catch {
      throw new EnvError('FERRY_TRUSTED_PUBLIC_KEYS', `key ${index + 1} is not a PEM public key`);
    }
    if (algorithmOf(key) === undefined) throw new EnvError('FERRY_TRUSTED_PUBLIC_KEYS', `key ${index + 1} is neither ed25519 nor ECDSA P-256`);
    return key;
  });
}
