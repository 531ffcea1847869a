/**
 * Building blocks both stacks share: the hardened bucket, the Lambda function shape
 * (Node 24, arm64, local esbuild, X-Ray, JSON logs with retention) and prop checks.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, type Size } from 'aws-cdk-lib';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type LifecycleRule } from 'aws-cdk-lib/aws-s3';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { filterProblems } from '../shared/core/formats/docker/filter.ts';
import { InfraConfigError } from './errors.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Lambda's Node.js 24 runtime; the project's code relies on Node 24 (type stripping, `import.meta.main`). */
export const FERRY_RUNTIME: Runtime = Runtime.NODEJS_24_X;

/** The Lambda entry points in `functions/`, one per stage of the flow. */
export type FunctionName = 'webhook' | 'scan' | 'copy' | 'seal' | 'import';

export interface FerryFunctionOptions {
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  reservedConcurrentExecutions?: number;
  /** /tmp size, when the function spools to disk (the importer reads a bundle twice). */
  ephemeralStorage?: Size;
}

/**
 * One Ferry Lambda. Bundled locally by esbuild (a devDependency, so no Docker), minified,
 * with source maps so stack traces name `shared/…` lines. The AWS SDK is bundled rather than
 * taken from the runtime so the deployed code runs the SDK versions the tests ran.
 */
export function ferryFunction(scope: Construct, id: string, name: FunctionName, options: FerryFunctionOptions): NodejsFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: options.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  // Our own role instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
  const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description: `Ferry ${name} function` });
  logGroup.grantWrite(role);
  return new NodejsFunction(scope, id, {
    entry: path.join(REPO_ROOT, 'functions', `${name}.ts`),
    handler: 'handler',
    description: options.description,
    runtime: FERRY_RUNTIME,
    architecture: Architecture.ARM_64,
    memorySize: options.memorySize,
    timeout: options.timeout,
    tracing: Tracing.ACTIVE,
    logGroup,
    role,
    loggingFormat: LoggingFormat.JSON,
    ...(options.ephemeralStorage !== undefined ? { ephemeralStorageSize: options.ephemeralStorage } : {}),
    ...(options.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: options.reservedConcurrentExecutions } : {}),
    environment: { POWERTOOLS_SERVICE_NAME: `ferry-${name}`, POWERTOOLS_METRICS_NAMESPACE: 'Ferry', ...options.environment },
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
    bundling: {
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      target: 'node24',
      format: OutputFormat.ESM,
      mainFields: ['module', 'main'],
      bundleAwsSDK: true,
      // CommonJS dependencies call require(); an ESM bundle has none unless we make one.
      banner: "import{createRequire as __ferryCreateRequire}from'node:module';const require=__ferryCreateRequire(import.meta.url);",
    },
  });
}

export interface HardenedBucketOptions {
  encryptionKey: IKey;
  accessLogs: Bucket;
  accessLogsPrefix: string;
  lifecycleRules?: LifecycleRule[];
  noncurrentVersionDays: number;
}

/**
 * A private, KMS-encrypted, TLS-only, versioned bucket that logs its accesses. Every
 * bucket holds either blobs or bundles, so incomplete multipart uploads (a copy or a seal
 * killed mid-stream) are aborted after a day and superseded versions expire.
 */
export function hardenedBucket(scope: Construct, id: string, options: HardenedBucketOptions): Bucket {
  return new Bucket(scope, id, {
    encryption: BucketEncryption.KMS,
    encryptionKey: options.encryptionKey,
    bucketKeyEnabled: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: true,
    serverAccessLogsBucket: options.accessLogs,
    serverAccessLogsPrefix: options.accessLogsPrefix,
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: [
      ...(options.lifecycleRules ?? []),
      { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(options.noncurrentVersionDays), expiredObjectDeleteMarker: true },
    ],
  });
}

/**
 * The access-log bucket. Server access logging can only deliver to SSE-S3 buckets, so this
 * one (and only this one) is not KMS-encrypted; it does not log its own accesses.
 */
export function accessLogBucket(scope: Construct, id: string, retentionDays: number): Bucket {
  return new Bucket(scope, id, {
    encryption: BucketEncryption.S3_MANAGED,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: true,
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: [
      { id: 'expire-access-logs', expiration: Duration.days(retentionDays), noncurrentVersionExpiration: Duration.days(1) },
      { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
  });
}

// ───────────────────────────── prop checks ─────────────────────────────

export const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const REPOSITORY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SCHEDULE = /^(rate|cron)\(.+\)$/;

export interface RawRepositoryConfig {
  name: string;
  format: 'raw';
  /** Repository name on the far side (default: the same). */
  target?: string;
}

/** A docker repository, as `FERRY_REPOSITORIES` carries it to the functions (functions/env.ts). */
export interface DockerRepositoryConfig {
  name: string;
  format: 'docker';
  target?: string;
  registry: {
    /** The endpoint serving this repository's `/v2/` (a Nexus connector port, path routing, any OCI registry). */
    url: string;
    /** Secrets Manager secret (full ARN), JSON `{"username","password"}`; default: the Nexus secret. */
    secretArn?: string;
  };
  /** `nexus` (default): the components API; `registry`: the registry's catalog and tags lists. */
  discovery?: 'nexus' | 'registry';
  images?: { include?: string; exclude?: string };
  tags?: { include?: string; exclude?: string; semver?: string };
  platforms?: string[];
  referrers?: boolean;
}

export type RepositoryConfig = RawRepositoryConfig | DockerRepositoryConfig;

/** A registry endpoint on the import side: target docker repository → `/v2/` URL and credentials. */
export interface RegistryEndpointConfig {
  url: string;
  /** Secrets Manager secret (full ARN), JSON `{"username","password"}`; default: the target Nexus secret. */
  secretArn?: string;
}

/**
 * Secrets named by full ARN in the props (registry credentials), imported once each and
 * readable by exactly `readers`.
 */
export function importedSecrets(scope: Construct, arns: (string | undefined)[], readers: IGrantable[]): ISecret[] {
  const unique = [...new Set(arns.filter((arn): arn is string => arn !== undefined && arn !== ''))];
  return unique.map((arn, i) => {
    const secret = Secret.fromSecretCompleteArn(scope, `RegistryCredentials${i}`, arn);
    for (const reader of readers) secret.grantRead(reader);
    return secret;
  });
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/** Collects problems so one bad deploy names all of them at once. */
export class Problems {
  readonly #list: string[] = [];
  add(problem: string): void {
    this.#list.push(problem);
  }
  httpUrl(field: string, value: unknown): void {
    if (typeof value !== 'string') return this.add(`${field}: required (an http(s) URL)`);
    try {
      const url = new URL(value);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') this.add(`${field}: must be an http(s) URL, got ${JSON.stringify(value)}`);
    } catch {
      this.add(`${field}: must be an http(s) URL, got ${JSON.stringify(value)}`);
    }
  }
  schedule(field: string, value: string): void {
    if (!SCHEDULE.test(value)) this.add(`${field}: must be an EventBridge rate(...) or cron(...) expression, got ${JSON.stringify(value)}`);
  }
  positiveInt(field: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
    if (!Number.isInteger(value) || value <= 0 || value > max) this.add(`${field}: must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  repositories(field: string, value: unknown): void {
    if (!Array.isArray(value) || value.length === 0) return this.add(`${field}: at least one repository is required`);
    value.forEach((r: unknown, i: number) => {
      const repo = r as Partial<RepositoryConfig> | null;
      if (typeof repo?.name !== 'string' || !REPOSITORY_NAME.test(repo.name)) this.add(`${field}[${i}].name: must be a Nexus repository name (letters, digits, . _ -)`);
      if (repo?.format !== 'raw' && repo?.format !== 'docker') this.add(`${field}[${i}].format: must be "raw" or "docker"`);
      if (repo?.target !== undefined && (typeof repo.target !== 'string' || !REPOSITORY_NAME.test(repo.target))) this.add(`${field}[${i}].target: must be a Nexus repository name`);
      if (repo?.format === 'docker') this.dockerRepository(`${field}[${i}]`, repo as Partial<DockerRepositoryConfig>);
    });
  }
  private dockerRepository(field: string, repo: Partial<DockerRepositoryConfig>): void {
    if (typeof repo.registry !== 'object' || repo.registry === null) return this.add(`${field}.registry: required for a docker repository ({url, secretArn?})`);
    this.httpUrl(`${field}.registry.url`, repo.registry.url);
    this.secretArn(`${field}.registry.secretArn`, repo.registry.secretArn);
    if (repo.discovery !== undefined && repo.discovery !== 'nexus' && repo.discovery !== 'registry') this.add(`${field}.discovery: must be "nexus" or "registry"`);
    if (repo.referrers !== undefined && typeof repo.referrers !== 'boolean') this.add(`${field}.referrers: must be true or false`);
    if (repo.platforms !== undefined && !Array.isArray(repo.platforms)) this.add(`${field}.platforms: must be a list such as ["linux/amd64"]`);
    else for (const problem of filterProblems({ images: repo.images, tags: repo.tags, platforms: repo.platforms })) this.add(`${field}.${problem}`);
  }
  secretArn(field: string, value: unknown): void {
    if (value !== undefined && (typeof value !== 'string' || !SECRET_ARN.test(value))) this.add(`${field}: must be the full ARN of a Secrets Manager secret`);
  }
  repositoryMap(field: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.add(`${field}: must map bundle target repositories to repositories here ({"from": "to"})`);
    for (const [from, to] of Object.entries(value as Record<string, unknown>)) {
      if (!REPOSITORY_NAME.test(from)) this.add(`${field}: ${JSON.stringify(from)} is not a Nexus repository name`);
      if (typeof to !== 'string' || !REPOSITORY_NAME.test(to)) this.add(`${field}.${from}: must be a Nexus repository name`);
    }
  }
  registries(field: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.add(`${field}: must map each target docker repository to {url, secretArn?}`);
    for (const [repository, endpoint] of Object.entries(value as Record<string, unknown>)) {
      const at = `${field}.${repository}`;
      if (!REPOSITORY_NAME.test(repository)) this.add(`${at}: not a Nexus repository name`);
      if (typeof endpoint !== 'object' || endpoint === null) {
        this.add(`${at}: must be {url, secretArn?}`);
        continue;
      }
      this.httpUrl(`${at}.url`, (endpoint as RegistryEndpointConfig).url);
      this.secretArn(`${at}.secretArn`, (endpoint as RegistryEndpointConfig).secretArn);
    }
  }
  throwIfAny(where: string): void {
    if (this.#list.length > 0) throw new InfraConfigError(where, this.#list);
  }
}
