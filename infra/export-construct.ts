/**
 * `FerryExport`: the connected side as a construct. Webhook and schedule feed copy tasks
 * through SQS; copy stages blobs in S3; seal writes signed bundles to `bundles/` with a
 * KMS asymmetric key. Usable inside any stack; {@link FerryExportStack} is the stock one.
 */
import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SCAN_LAG_METRIC } from '../functions/metrics.ts';
import { accessLogBucket, ferryFunction, hardenedBucket, importedSecrets, Problems, SOURCE_ID, type RepositoryConfig } from './common.ts';
import { acknowledge, acknowledgeRoleFindings, arnToken, GRANT_REASONS } from './nag.ts';

export interface FerryExportProps {
  /** Names this chain of bundles (lowercase, digits, `. _ -`). */
  sourceId: string;
  /** Base URL of the connected Nexus, e.g. `https://nexus.example.com`. */
  nexusUrl: string;
  repositories: RepositoryConfig[];
  /** EventBridge expression for the safety-net scan. Default `rate(15 minutes)`. */
  scanSchedule?: string;
  /** EventBridge expression for sealing pending entries. Default `rate(1 hour)`. */
  sealSchedule?: string;
  /** Size cap per bundle (the media). Default 4 GiB. */
  maxBundleBytes?: number;
  /** Copy asks seal for a bundle early once this many bytes are pending. Default `maxBundleBytes`. */
  sealThresholdBytes?: number;
  /** How far behind the watermark a scan looks (clock skew, slow commits). Default 600. */
  overlapSeconds?: number;
  /** Most copy invocations at once (SQS event source maxConcurrency, 2–1000). Default 10. */
  copyConcurrency?: number;
  /** Alarm when no scan has succeeded for this long. Default 3600. */
  scanLagAlarmSeconds?: number;
  /** Alarm when the oldest copy task has waited this long. Default 3600. */
  oldestTaskAlarmSeconds?: number;
  logRetention?: RetentionDays;
  /** SNS topic the alarms notify; none when omitted. */
  alarmTopicArn?: string;
}

/** Longest a copy may run: big artifacts stream for minutes. The queue's visibility is 6× this. */
export const COPY_TIMEOUT = Duration.minutes(15);

/** POWERTOOLS_SERVICE_NAME of the scan function: Powertools puts it in every metric's `service` dimension. */
const SCAN_SERVICE = 'ferry-scan';

export class FerryExport extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;
  readonly table: Table;
  readonly idempotencyTable: Table;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly dataKey: Key;
  readonly signingKey: Key;
  readonly nexusSecret: Secret;
  readonly webhookSecret: Secret;
  /** Registry secrets named by docker repositories (`registry.secretArn`), imported by ARN. */
  readonly registrySecrets: ISecret[];
  readonly functions: Record<'webhook' | 'scan' | 'copy' | 'seal', NodejsFunction>;
  readonly webhookUrl: FunctionUrl;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: FerryExportProps) {
    super(scope, id);
    const settings = checkProps(props);
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;

    // ── keys, storage, state ───────────────────────────────────────────────
    this.dataKey = new Key(this, 'DataKey', {
      description: `Ferry ${props.sourceId}: encrypts staged blobs, bundles, state and the task queue`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.signingKey = new Key(this, 'SigningKey', {
      description: `Ferry ${props.sourceId}: signs bundle manifests (ECDSA P-256); its public key is the importer's trust anchor`,
      keySpec: KeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.accessLogs = accessLogBucket(this, 'AccessLogs', 365);
    this.bucket = hardenedBucket(this, 'Bucket', {
      encryptionKey: this.dataKey,
      accessLogs: this.accessLogs,
      accessLogsPrefix: 'ferry-bucket/',
      noncurrentVersionDays: 30,
      lifecycleRules: [{ id: 'expire-staging', prefix: 'staging/', expiration: Duration.days(7) }],
    });

    const tableProps = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.table = new Table(this, 'State', {
      ...tableProps,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
    });
    // Powertools idempotency's default schema; records expire by themselves.
    this.idempotencyTable = new Table(this, 'Idempotency', {
      ...tableProps,
      partitionKey: { name: 'id', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.deadLetterQueue = new Queue(this, 'TasksDeadLetter', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.dataKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Tasks', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.dataKey,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(COPY_TIMEOUT.toSeconds() * 6),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    // Placeholders generated by Secrets Manager; operators put the real values (docs/deploy.md).
    this.nexusSecret = new Secret(this, 'NexusCredentials', {
      description: `Ferry ${props.sourceId}: JSON {username, password} of the read-only Nexus user at ${props.nexusUrl}`,
      generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'ferry-reader' }), generateStringKey: 'password', excludePunctuation: true, passwordLength: 32 },
    });
    acknowledge(this.nexusSecret, 'AwsSolutions-SMG4', 'The Nexus password is owned by the Nexus administrators and changed in Nexus first; a Secrets Manager rotation Lambda cannot change a Nexus user password, so operators update this secret when they rotate it.');
    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      description: `Ferry ${props.sourceId}: HMAC secret shared with the Nexus webhook capability`,
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    acknowledge(this.webhookSecret, 'AwsSolutions-SMG4', 'The webhook HMAC secret must be pasted into the Nexus webhook capability by hand; automatic rotation would break deliveries until then, so it is rotated by the documented manual procedure.');

    // ── functions ───────────────────────────────────────────────────────────
    const common = {
      FERRY_SOURCE_ID: props.sourceId,
      FERRY_TABLE: this.table.tableName,
      FERRY_BUCKET: this.bucket.bucketName,
      FERRY_QUEUE_URL: this.queue.queueUrl,
      FERRY_NEXUS_URL: props.nexusUrl,
      FERRY_NEXUS_SECRET_ARN: this.nexusSecret.secretArn,
      FERRY_REPOSITORIES: JSON.stringify(props.repositories),
    };
    const seal = ferryFunction(this, 'Seal', 'seal', {
      description: 'Seals pending entries into signed, chained, size-capped bundles under bundles/',
      memorySize: 1024,
      timeout: Duration.minutes(15),
      logRetention,
      // Bundles are numbered in sequence per source: one sealer at a time.
      reservedConcurrentExecutions: 1,
      environment: { ...common, FERRY_KMS_KEY_ID: this.signingKey.keyId, FERRY_MAX_BUNDLE_BYTES: String(settings.maxBundleBytes) },
    });
    const webhook = ferryFunction(this, 'Webhook', 'webhook', {
      description: 'Receives HMAC-signed Nexus webhook deliveries and queues copy tasks',
      memorySize: 512,
      timeout: Duration.seconds(30),
      logRetention,
      environment: {
        ...common,
        FERRY_WEBHOOK_SECRET_ARN: this.webhookSecret.secretArn,
        FERRY_WEBHOOK_MAX_BYTES: String(64 * 1024),
        FERRY_IDEMPOTENCY_TABLE: this.idempotencyTable.tableName,
      },
    });
    const scan = ferryFunction(this, 'Scan', 'scan', {
      description: 'Scans each repository for components changed since its watermark and queues copy tasks',
      memorySize: 512,
      timeout: Duration.minutes(10),
      logRetention,
      // Overlapping scans of one repository would race for the watermark: one at a time.
      reservedConcurrentExecutions: 1,
      environment: { ...common, FERRY_OVERLAP_SECONDS: String(settings.overlapSeconds) },
    });
    const copy = ferryFunction(this, 'Copy', 'copy', {
      description: 'Streams each queued artifact from Nexus, verifies its checksum and stages it content-addressed',
      memorySize: 1024,
      timeout: COPY_TIMEOUT,
      logRetention,
      environment: {
        ...common,
        FERRY_IDEMPOTENCY_TABLE: this.idempotencyTable.tableName,
        FERRY_SEAL_FUNCTION_NAME: seal.functionName,
        FERRY_SEAL_THRESHOLD_BYTES: String(settings.sealThresholdBytes),
      },
    });
    this.functions = { webhook, scan, copy, seal };

    this.webhookUrl = webhook.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    acknowledge(webhook, 'Ferry-LambdaFunctionUrlAuth', 'Nexus webhook deliveries cannot carry AWS SigV4 credentials; the function authenticates every request by the HMAC-SHA1 signature Nexus computes with the shared webhook secret and rejects unsigned or oversized bodies before doing any work.');

    copy.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(5), reportBatchItemFailures: true, maxConcurrency: settings.copyConcurrency }));
    new Rule(this, 'ScanSchedule', { description: `Ferry ${props.sourceId}: safety-net scan`, schedule: Schedule.expression(settings.scanSchedule), targets: [new LambdaFunction(scan, { retryAttempts: 2 })] });
    new Rule(this, 'SealSchedule', { description: `Ferry ${props.sourceId}: seal pending entries`, schedule: Schedule.expression(settings.sealSchedule), targets: [new LambdaFunction(seal, { retryAttempts: 2 })] });

    // ── least privilege: each function gets what its stage touches, nothing more ──
    this.queue.grantSendMessages(webhook);
    this.webhookSecret.grantRead(webhook);
    this.nexusSecret.grantRead(webhook);
    this.idempotencyTable.grantReadWriteData(webhook);
    this.table.grantReadData(webhook); // skips assets whose content is already recorded

    this.queue.grantSendMessages(scan);
    this.table.grantReadWriteData(scan);
    this.nexusSecret.grantRead(scan);
    // A resend request's blob that is not staged is fetched again: scan looks whether it is.
    this.bucket.grantRead(scan, 'blobs/*');

    this.bucket.grantReadWrite(copy, 'staging/*');
    this.bucket.grantReadWrite(copy, 'blobs/*');
    this.table.grantReadWriteData(copy);
    this.idempotencyTable.grantReadWriteData(copy);
    this.nexusSecret.grantRead(copy);
    seal.grantInvoke(copy);

    // Registry credentials of docker repositories that have their own (the rest use the Nexus
    // secret): read by every function that talks to the registries, never by seal.
    this.registrySecrets = importedSecrets(this, props.repositories.map((r) => (r.format === 'docker' ? r.registry?.secretArn : undefined)), [webhook, scan, copy]);

    this.bucket.grantRead(seal, 'blobs/*');
    this.bucket.grantReadWrite(seal, 'sealed/*');
    this.bucket.grantReadWrite(seal, 'bundles/*');
    this.table.grantReadWriteData(seal);
    this.signingKey.grant(seal, 'kms:Sign', 'kms:GetPublicKey');

    const bucketArn = arnToken(this.bucket);
    const s3Findings = (prefixes: string[], write: boolean): Record<string, string> => ({
      'Action::s3:GetObject*': GRANT_REASONS.s3GetObject,
      'Action::s3:GetBucket*': GRANT_REASONS.s3GetBucket,
      'Action::s3:List*': GRANT_REASONS.s3List,
      ...(write ? { 'Action::s3:DeleteObject*': GRANT_REASONS.s3DeleteObject, 'Action::s3:Abort*': GRANT_REASONS.s3Abort } : {}),
      ...Object.fromEntries(prefixes.map((p) => [`Resource::${bucketArn}/${p}/*`, `Only objects under ${p}/ in the Ferry bucket: ${PREFIX_PURPOSE[p]}.`])),
    });
    const kmsFindings = { 'Action::kms:ReEncrypt*': GRANT_REASONS.kmsReEncrypt, 'Action::kms:GenerateDataKey*': GRANT_REASONS.kmsGenerateDataKey };
    acknowledgeRoleFindings(webhook.role, { 'Resource::*': GRANT_REASONS.xray, ...kmsFindings });
    acknowledgeRoleFindings(scan.role, { 'Resource::*': GRANT_REASONS.xray, ...kmsFindings, ...s3Findings(['blobs'], false) });
    acknowledgeRoleFindings(copy.role, {
      'Resource::*': GRANT_REASONS.xray,
      ...kmsFindings,
      ...s3Findings(['staging', 'blobs'], true),
      [`Resource::${arnToken(seal)}:*`]: 'Copy may invoke only the seal function (any version or alias of it) to seal early once enough bytes are pending.',
    });
    acknowledgeRoleFindings(seal.role, { 'Resource::*': GRANT_REASONS.xray, ...kmsFindings, ...s3Findings(['blobs', 'sealed', 'bundles'], true) });

    // ── alarms ─────────────────────────────────────────────────────────────
    this.alarms = [
      new Alarm(this, 'DeadLetterDepth', {
        alarmDescription: `Ferry ${props.sourceId}: copy tasks failed 5 times and wait in the dead-letter queue; they are not in any bundle yet.`,
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'OldestTaskAge', {
        alarmDescription: `Ferry ${props.sourceId}: the oldest copy task has waited too long; copy is stuck or throttled.`,
        metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: settings.oldestTaskAlarmSeconds,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      // One per repository: the scan reports each repository's lag under its own dimension.
      ...props.repositories.map(
        (repository) =>
          new Alarm(this, `ScanLag-${repository.name}`, {
            alarmDescription: `Ferry ${props.sourceId}: ${repository.name} has not been scanned up to date recently (ScanLagSeconds high or missing); new components may not be found.`,
            metric: new Metric({
              namespace: 'Ferry',
              metricName: SCAN_LAG_METRIC,
              dimensionsMap: { service: SCAN_SERVICE, repository: repository.name },
              period: Duration.minutes(15),
              statistic: 'Maximum',
            }),
            threshold: settings.scanLagAlarmSeconds,
            comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            // No data points means the scan is not running at all: that is the lag we alarm on.
            treatMissingData: TreatMissingData.BREACHING,
          }),
      ),
    ];
    if (props.alarmTopicArn !== undefined) {
      const topic = Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn);
      for (const alarm of this.alarms) alarm.addAlarmAction(new SnsAction(topic));
    }

    // ── outputs ────────────────────────────────────────────────────────────
    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('WebhookUrl', this.webhookUrl.url, 'URL for the Nexus webhook capability (webhook.repository)');
    output('WebhookSecretArn', this.webhookSecret.secretArn, 'Secret whose value goes into the Nexus webhook capability');
    output('NexusSecretArn', this.nexusSecret.secretArn, 'Put {"username","password"} of the Nexus reader here');
    output('BucketName', this.bucket.bucketName, 'Bundles appear under s3://<bucket>/bundles/');
    output('SigningKeyId', this.signingKey.keyId, 'KMS key that signs bundles; export its public key for the importer');
    output('QueueUrl', this.queue.queueUrl, 'Copy task queue');
    output('DeadLetterQueueUrl', this.deadLetterQueue.queueUrl, 'Copy tasks that failed 5 times');
    output('TableName', this.table.tableName, 'State table (watermarks, ledgers, bundles)');
  }
}

const PREFIX_PURPOSE: Record<string, string> = {
  staging: 'temporaries of uploads in progress, expired after 7 days',
  blobs: 'content-addressed blobs (blobs/sha256/<hex>)',
  bundles: 'published bundle tar files (the outbox ops download from)',
  sealed: 'bundles sealed and recorded, not yet published (never expired: a crash in between is finished by the next seal)',
};

interface ExportSettings {
  scanSchedule: string;
  sealSchedule: string;
  maxBundleBytes: number;
  sealThresholdBytes: number;
  overlapSeconds: number;
  copyConcurrency: number;
  scanLagAlarmSeconds: number;
  oldestTaskAlarmSeconds: number;
}

function checkProps(props: FerryExportProps): ExportSettings {
  const settings: ExportSettings = {
    scanSchedule: props.scanSchedule ?? 'rate(15 minutes)',
    sealSchedule: props.sealSchedule ?? 'rate(1 hour)',
    maxBundleBytes: props.maxBundleBytes ?? 4 * 2 ** 30,
    sealThresholdBytes: props.sealThresholdBytes ?? props.maxBundleBytes ?? 4 * 2 ** 30,
    overlapSeconds: props.overlapSeconds ?? 600,
    copyConcurrency: props.copyConcurrency ?? 10,
    scanLagAlarmSeconds: props.scanLagAlarmSeconds ?? 3600,
    oldestTaskAlarmSeconds: props.oldestTaskAlarmSeconds ?? 3600,
  };
  const problems = new Problems();
  if (typeof props.sourceId !== 'string' || !SOURCE_ID.test(props.sourceId)) problems.add(`sourceId: must be lowercase letters, digits, . _ - (at most 63), got ${JSON.stringify(props.sourceId)}`);
  problems.httpUrl('nexusUrl', props.nexusUrl);
  problems.repositories('repositories', props.repositories);
  problems.schedule('scanSchedule', settings.scanSchedule);
  problems.schedule('sealSchedule', settings.sealSchedule);
  problems.positiveInt('maxBundleBytes', settings.maxBundleBytes);
  problems.positiveInt('sealThresholdBytes', settings.sealThresholdBytes);
  if (!Number.isInteger(settings.overlapSeconds) || settings.overlapSeconds < 0) problems.add(`overlapSeconds: must be a whole number of seconds, 0 or more, got ${JSON.stringify(settings.overlapSeconds)}`);
  problems.positiveInt('scanLagAlarmSeconds', settings.scanLagAlarmSeconds);
  problems.positiveInt('oldestTaskAlarmSeconds', settings.oldestTaskAlarmSeconds);
  if (!Number.isInteger(settings.copyConcurrency) || settings.copyConcurrency < 2 || settings.copyConcurrency > 1000) problems.add(`copyConcurrency: must be a whole number from 2 to 1000 (SQS maxConcurrency), got ${settings.copyConcurrency}`);
  problems.throwIfAny('FerryExport');
  return settings;
}
