/**
 * Building blocks both stacks share: the hardened bucket, the Lambda function shape
 * (Node 24, arm64, local esbuild, X-Ray, JSON logs with retention), alarm notifications and
 * prop checks.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type LifecycleRule } from 'aws-cdk-lib/aws-s3';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { z } from 'zod';
import { METRICS_NAMESPACE, serviceOf } from '../functions/metrics.ts';
import { issueMessage, issuePath } from '../shared/issues.ts';
import { repositoryNameSchema } from '../shared/config/names.ts';
import { deployedRegistrySchema, deployedRepositories, secretArnSchema } from '../shared/config/repositories.ts';
import { InfraConfigError } from './errors.ts';
import { functionEntry, LAMBDA_BUNDLING, type FunctionName } from './lambda-bundling.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Lambda's Node.js 24 runtime; the project's code relies on Node 24 (type stripping, `import.meta.main`). */
export const FERRY_RUNTIME: Runtime = Runtime.NODEJS_24_X;

export type { FunctionName } from './lambda-bundling.ts';

export interface FerryFunctionOptions {
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  reservedConcurrentExecutions?: number;
}

/**
 * One Ferry Lambda. Bundled locally by esbuild (a devDependency, so no Docker) as
 * infra/lambda-bundling.ts describes: minified, with source maps, the AWS SDK taken from the
 * runtime (what that costs is written there).
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
    entry: functionEntry(name),
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
    ...(options.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: options.reservedConcurrentExecutions } : {}),
    environment: { POWERTOOLS_SERVICE_NAME: serviceOf(name), POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, ...options.environment },
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
    bundling: LAMBDA_BUNDLING,
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

/** Lets every alarm notify the SNS topic at `topicArn`, when there is one (imported, not created). */
export function notifyAlarmTopic(scope: Construct, alarms: Alarm[], topicArn: string | undefined): void {
  if (topicArn === undefined) return;
  const topic = Topic.fromTopicArn(scope, 'AlarmTopic', topicArn);
  for (const alarm of alarms) alarm.addAlarmAction(new SnsAction(topic));
}

// ───────────────────────────── prop checks ─────────────────────────────

export { SOURCE_ID } from '../shared/config/names.ts';
const SCHEDULE = /^(rate|cron)\(.+\)$/;

const deployed = deployedRepositories();

/** A carried repository, as the props and the sync definitions hold it (shared/config/repositories.ts). */
export type RepositoryConfig = z.input<typeof deployed.repository>;
export type RawRepositoryConfig = z.input<typeof deployed.raw>;
export type DockerRepositoryConfig = z.input<typeof deployed.docker>;
/** maven2, npm, pypi, nuget or helm. */
export type PackageRepositoryConfig = z.input<typeof deployed.packages>;

/** A registry endpoint on the import side: target docker repository → `/v2/` URL and credentials. */
export type RegistryEndpointConfig = z.input<typeof deployedRegistrySchema>;

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
    this.#zod(field, z.array(deployed.repository), value);
  }
  secretArn(field: string, value: unknown): void {
    if (value !== undefined) this.#zod(field, secretArnSchema, value);
  }
  repositoryMap(field: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.add(`${field}: must map bundle target repositories to repositories here ({"from": "to"})`);
    this.#zod(field, z.record(repositoryNameSchema, repositoryNameSchema), value);
  }
  registries(field: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.add(`${field}: must map each target docker repository to {url, secretArn?}`);
    this.#zod(field, z.record(repositoryNameSchema, deployedRegistrySchema), value);
  }
  /** One problem per zod issue, at `field` plus the issue's path. */
  #zod(field: string, schema: z.ZodType, value: unknown): void {
    const parsed = schema.safeParse(value);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) this.add(`${issuePath(issue, field, [field])}: ${issueMessage(issue)}`);
  }
  throwIfAny(where: string): void {
    if (this.#list.length > 0) throw new InfraConfigError(where, this.#list);
  }
}
