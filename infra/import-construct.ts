/**
 * `FerryImport`: the isolated side as a construct. Ops upload a bundle to the inbox bucket's
 * `bundles/`; the upload triggers the import function, which verifies the bundle completely,
 * loads the target Nexus and writes a receipt under `receipts/`. Blobs a later bundle will
 * need are kept in the held-blobs bucket. Its dashboard is in import-dashboard.ts.
 */
import { createPublicKey } from 'node:crypto';
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { EventType, type Bucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { accessLogBucket, ferryFunction, hardenedBucket, importedSecrets, notifyAlarmTopic, Problems, type RegistryEndpointConfig } from './common.ts';
import { importDashboard } from './import-dashboard.ts';
import { acknowledge, acknowledgeRoleFindings, arnToken, GRANT_REASONS } from './nag.ts';

export interface FerryImportProps {
  /** Base URL of the isolated Nexus, e.g. `https://nexus.isolated.example`. */
  targetUrl: string;
  /**
   * PEM public keys whose bundles are accepted (concatenated). For bundles sealed by a
   * `FerryExportStack`, the output of `aws kms get-public-key` for its SigningKeyId, as PEM.
   */
  trustedPublicKeysPem: string;
  /**
   * The registry endpoint serving each docker repository of the target Nexus (a connector
   * port or path routing), for bundles that carry images. Credentials: `secretArn`, else the
   * target Nexus secret.
   */
  registries?: Record<string, RegistryEndpointConfig>;
  /** Bundle target repository → repository on the target Nexus; unnamed ones keep their name. */
  repositoryMap?: Record<string, string>;
  logRetention?: RetentionDays;
  /** SNS topic the alarms notify; none when omitted. */
  alarmTopicArn?: string;
}

export const RECEIPTS_PREFIX = 'receipts/';

export class FerryImport extends Construct {
  readonly inbox: Bucket;
  readonly held: Bucket;
  readonly accessLogs: Bucket;
  readonly table: Table;
  readonly dataKey: Key;
  /** Signs receipts (ECDSA P-256), so the export side can trust what they say the far side holds. */
  readonly receiptSigningKey: Key;
  readonly targetSecret: Secret;
  /** Registry secrets named in `registries` (`secretArn`), imported by ARN. */
  readonly registrySecrets: ISecret[];
  readonly failedImports: Queue;
  readonly importFunction: NodejsFunction;
  readonly alarms: Alarm[];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: FerryImportProps) {
    super(scope, id);
    const trustedKeys = checkProps(props);
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;

    // Each part is created directly on this construct (logical IDs follow the construct path)
    // and in this order, which fixes the order of resources and of the grants' policy statements.
    ({ dataKey: this.dataKey, receiptSigningKey: this.receiptSigningKey } = importKeys(this));
    ({ accessLogs: this.accessLogs, inbox: this.inbox, held: this.held, table: this.table } = importStore(this, this.dataKey));
    this.targetSecret = targetSecret(this, props.targetUrl);
    this.failedImports = failedImportsQueue(this, this.dataKey);

    this.importFunction = importFunction(this, props, trustedKeys, logRetention);
    triggerOnUpload(this, this.importFunction);

    this.registrySecrets = grantImportAccess(this, this.importFunction, props.registries);
    acknowledgeImportFindings(this, this.importFunction);

    this.alarms = importAlarms(this, this.importFunction);
    notifyAlarmTopic(this, this.alarms, props.alarmTopicArn);
    this.dashboard = importDashboard(this);

    importOutputs(this);
  }
}

/** Both are retained: the data key protects retained buckets and the table, and `ferry receipt apply` trusts the receipt key's public key. */
function importKeys(scope: Construct): Pick<FerryImport, 'dataKey' | 'receiptSigningKey'> {
  const dataKey = new Key(scope, 'DataKey', {
    description: 'Ferry import: encrypts the inbox, held blobs, import state and failed-import queue',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const receiptSigningKey = new Key(scope, 'ReceiptSigningKey', {
    description: 'Ferry import: signs receipts (ECDSA P-256); its public key is what `ferry receipt apply --public-key` trusts',
    keySpec: KeySpec.ECC_NIST_P256,
    keyUsage: KeyUsage.SIGN_VERIFY,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  return { dataKey, receiptSigningKey };
}

/** The inbox (bundles in, receipts out), the held-blobs bucket, their access logs and the import state table. */
function importStore(scope: Construct, dataKey: Key): Pick<FerryImport, 'accessLogs' | 'inbox' | 'held' | 'table'> {
  const accessLogs = accessLogBucket(scope, 'AccessLogs', 365);
  const inbox = hardenedBucket(scope, 'Inbox', { encryptionKey: dataKey, accessLogs, accessLogsPrefix: 'inbox/', noncurrentVersionDays: 30 });
  const held = hardenedBucket(scope, 'HeldBlobs', { encryptionKey: dataKey, accessLogs, accessLogsPrefix: 'held/', noncurrentVersionDays: 7 });

  const table = new Table(scope, 'ImportState', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: dataKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.RETAIN,
  });
  return { accessLogs, inbox, held, table };
}

/** The target Nexus uploader's credentials: a generated placeholder operators replace (docs/deploy.md). */
function targetSecret(scope: Construct, targetUrl: string): Secret {
  const secret = new Secret(scope, 'TargetCredentials', {
    description: `Ferry import: JSON {username, password} of the Nexus user that uploads to ${targetUrl}`,
    generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'ferry-writer' }), generateStringKey: 'password', excludePunctuation: true, passwordLength: 32 },
  });
  acknowledge(secret, 'AwsSolutions-SMG4', 'The target Nexus password is owned by the isolated Nexus administrators and changed in Nexus first; a rotation Lambda cannot change a Nexus user password, so operators update this secret when they rotate it.');
  return secret;
}

/** Where import invocations that failed after their retries end up, for an alarm and for ops. */
function failedImportsQueue(scope: Construct, dataKey: Key): Queue {
  const queue = new Queue(scope, 'FailedImports', {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: dataKey,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(queue, 'AwsSolutions-SQS3', 'This queue is itself the failure destination of the import function\'s asynchronous invocations; it is watched by an alarm and has no queue behind it.');
  return queue;
}

/** The import function, with the environment functions/env.ts reads; registries and the repository map only when given. */
function importFunction(ferry: FerryImport, props: FerryImportProps, trustedKeys: string, logRetention: RetentionDays): NodejsFunction {
  return ferryFunction(ferry, 'Import', 'import', {
    description: 'Verifies an uploaded bundle completely, loads the target Nexus, writes a receipt',
    memorySize: 1024,
    timeout: Duration.minutes(15),
    logRetention,
    // Bundles apply in sequence order: one importer at a time.
    reservedConcurrentExecutions: 1,
    environment: {
      FERRY_TARGET_URL: props.targetUrl,
      FERRY_TARGET_SECRET_ARN: ferry.targetSecret.secretArn,
      FERRY_IMPORT_TABLE: ferry.table.tableName,
      FERRY_HELD_BUCKET: ferry.held.bucketName,
      FERRY_TRUSTED_PUBLIC_KEYS: trustedKeys,
      FERRY_RECEIPTS_PREFIX: RECEIPTS_PREFIX,
      FERRY_KMS_KEY_ID: ferry.receiptSigningKey.keyId,
      ...(props.registries !== undefined && Object.keys(props.registries).length > 0 ? { FERRY_REGISTRIES: JSON.stringify(props.registries) } : {}),
      ...(props.repositoryMap !== undefined && Object.keys(props.repositoryMap).length > 0 ? { FERRY_REPOSITORY_MAP: JSON.stringify(props.repositoryMap) } : {}),
    },
  });
}

/**
 * A `.tar` uploaded under `bundles/` of the inbox invokes the function asynchronously;
 * invocations that still fail after 2 retries (or 6 hours) go to the failed-imports queue.
 */
function triggerOnUpload(ferry: FerryImport, fn: NodejsFunction): void {
  fn.configureAsyncInvoke({ onFailure: new SqsDestination(ferry.failedImports), retryAttempts: 2, maxEventAge: Duration.hours(6) });
  ferry.inbox.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(fn), { prefix: 'bundles/', suffix: '.tar' });
}

/**
 * Least privilege: the importer reads bundles and writes receipts in the inbox, owns the
 * held-blobs bucket and the table, and signs with the receipt key. Imports the registry
 * secrets named in `registries` (returned), readable by the importer only.
 */
function grantImportAccess(ferry: FerryImport, fn: NodejsFunction, registries: Record<string, RegistryEndpointConfig> | undefined): ISecret[] {
  ferry.inbox.grantRead(fn, 'bundles/*');
  ferry.inbox.grantPut(fn, `${RECEIPTS_PREFIX}*`);
  ferry.held.grantReadWrite(fn);
  ferry.table.grantReadWriteData(fn);
  ferry.targetSecret.grantRead(fn);
  ferry.receiptSigningKey.grant(fn, 'kms:Sign', 'kms:GetPublicKey');
  return importedSecrets(ferry, Object.values(registries ?? {}).map((r) => r.secretArn), [fn]);
}

/**
 * Acknowledges the wildcard findings of {@link grantImportAccess} on the importer's role, and
 * the managed policy of CDK's bucket-notifications handler that {@link triggerOnUpload} brings.
 */
function acknowledgeImportFindings(ferry: FerryImport, fn: NodejsFunction): void {
  const inboxArn = arnToken(ferry.inbox);
  acknowledgeRoleFindings(fn.role, {
    'Resource::*': GRANT_REASONS.xray,
    'Action::kms:ReEncrypt*': GRANT_REASONS.kmsReEncrypt,
    'Action::kms:GenerateDataKey*': GRANT_REASONS.kmsGenerateDataKey,
    'Action::s3:GetObject*': GRANT_REASONS.s3GetObject,
    'Action::s3:GetBucket*': GRANT_REASONS.s3GetBucket,
    'Action::s3:List*': GRANT_REASONS.s3List,
    'Action::s3:DeleteObject*': GRANT_REASONS.s3DeleteObject,
    'Action::s3:Abort*': GRANT_REASONS.s3Abort,
    [`Resource::${inboxArn}/bundles/*`]: 'The importer reads only the bundles uploaded under bundles/ of the inbox bucket.',
    [`Resource::${inboxArn}/${RECEIPTS_PREFIX}*`]: 'The importer writes only its receipts, under receipts/ of the inbox bucket, for ops to carry back.',
    [`Resource::${arnToken(ferry.held)}/*`]: 'The held-blobs bucket exists only for this importer: it keeps blobs that later bundles list as required.',
  });

  // S3 → Lambda notifications are configured by CDK's own custom resource (one per stack).
  const notifications = Stack.of(ferry).node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
  if (notifications !== undefined) {
    acknowledge(notifications, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'CDK\'s bucket-notifications custom resource only writes its own logs with AWSLambdaBasicExecutionRole; it runs once per deployment to set the inbox notification.');
  }
}

/** A bundle that failed for good (in the failed-imports queue), and any error of the function. */
function importAlarms(ferry: FerryImport, fn: NodejsFunction): Alarm[] {
  return [
    new Alarm(ferry, 'FailedImportsDepth', {
      alarmDescription: 'Ferry import: an import invocation failed after its retries; the bundle is in the inbox but not on the target.',
      metric: ferry.failedImports.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
    new Alarm(ferry, 'ImportErrors', {
      alarmDescription: 'Ferry import: the import function reported errors (a refused bundle, an unreachable target).',
      metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
  ];
}

/** What operators need after a deploy (docs/deploy.md): where to upload, what to fill in, what to trust. */
function importOutputs(ferry: FerryImport): void {
  new CfnOutput(ferry, 'InboxBucketName', { value: ferry.inbox.bucketName, description: 'Upload bundles to s3://<bucket>/bundles/; receipts appear under receipts/' });
  new CfnOutput(ferry, 'HeldBucketName', { value: ferry.held.bucketName, description: 'Blobs held for later bundles' });
  new CfnOutput(ferry, 'TargetSecretArn', { value: ferry.targetSecret.secretArn, description: 'Put {"username","password"} of the target Nexus uploader here' });
  new CfnOutput(ferry, 'ImportTableName', { value: ferry.table.tableName, description: 'Import progress and chain position' });
  new CfnOutput(ferry, 'ReceiptSigningKeyId', { value: ferry.receiptSigningKey.keyId, description: 'KMS key that signs receipts; export its public key for ferry receipt apply --public-key' });
  new CfnOutput(ferry, 'FailedImportsQueueUrl', { value: ferry.failedImports.queueUrl, description: 'Import invocations that failed after retries' });
  new CfnOutput(ferry, 'ImportFunctionName', {
    value: ferry.importFunction.functionName,
    description: 'Invoke with {"bucket","bundles":["bundles/<name>.tar"],"allowGap":true} to import bundles whose predecessor was lost for good',
  });
}

/** Checks the props and returns the trusted keys as normalised PEM, one after another. */
function checkProps(props: FerryImportProps): string {
  const problems = new Problems();
  problems.httpUrl('targetUrl', props.targetUrl);
  problems.registries('registries', props.registries);
  problems.repositoryMap('repositoryMap', props.repositoryMap);
  const blocks = typeof props.trustedPublicKeysPem === 'string' ? (props.trustedPublicKeysPem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []) : [];
  if (blocks.length === 0) problems.add('trustedPublicKeysPem: at least one PEM public key ("-----BEGIN PUBLIC KEY-----") is required');
  const normalised: string[] = [];
  blocks.forEach((pem, i) => {
    try {
      const key = createPublicKey(pem);
      const type = key.asymmetricKeyType;
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (type !== 'ed25519' && !(type === 'ec' && curve === 'prime256v1')) problems.add(`trustedPublicKeysPem[${i}]: must be an Ed25519 or ECDSA P-256 key, got ${type}${curve ? ` (${curve})` : ''}`);
      normalised.push(key.export({ type: 'spki', format: 'pem' }).toString().trim());
    } catch (error) {
      problems.add(`trustedPublicKeysPem[${i}]: not a readable public key (${(error as Error).message})`);
    }
  });
  problems.throwIfAny('FerryImport');
  return `${normalised.join('\n')}\n`;
}
