/**
 * `FerryExport`: the connected side as a construct. Webhook and schedule feed copy tasks
 * through SQS; copy stages blobs in S3; seal writes signed bundles to `bundles/` with a
 * KMS asymmetric key. Usable inside any stack; {@link FerryExportStack} is the stock one.
 *
 * The parts live beside it: export-storage.ts (keys, bucket, tables, queues, secrets),
 * export-functions.ts (functions and their triggers), export-grants.ts (least privilege and
 * its cdk-nag acknowledgements), export-alarms.ts and export-dashboard.ts.
 */
import { CfnOutput } from 'aws-cdk-lib';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { notifyAlarmTopic, Problems, SOURCE_ID, type RepositoryConfig } from './common.ts';
import { exportAlarms } from './export-alarms.ts';
import { exportDashboard } from './export-dashboard.ts';
import { exportFunctions, exportTriggers, type ExportFunctions } from './export-functions.ts';
import { acknowledgeExportGrants, grantExportAccess, grantRegistrySecretPrefix, registrySecretArnPrefix } from './export-grants.ts';
import { exportKeys, exportQueues, exportSecrets, exportStore } from './export-storage.ts';
import { exportDefinitions, type ExportDefinitions } from './definitions.ts';

export { COPY_TIMEOUT } from './export-functions.ts';

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
  /**
   * EventBridge expression for the full reconcile of deletions (repositories with
   * `deletions: carry`; the scan function lists each in full). Default `rate(1 day)`.
   */
  reconcileSchedule?: string;
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
  /**
   * Registry credentials a docker repository defined through the definitions API may name:
   * secrets whose name starts with this (in this stack's account and region) are readable by
   * the functions without a redeploy. Default `ferry/<sourceId>/`.
   */
  registrySecretPrefix?: string;
  /** Alarm when the oldest copy task has waited this long. Default 3600. */
  oldestTaskAlarmSeconds?: number;
  logRetention?: RetentionDays;
  /** SNS topic the alarms notify; none when omitted. */
  alarmTopicArn?: string;
}

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
  readonly functions: ExportFunctions;
  readonly webhookUrl: FunctionUrl;
  readonly alarms: Alarm[];
  readonly dashboard: Dashboard;
  /** Sync definitions: the carried repositories in the state table, seeded from the props, managed by API (definitions.ts). */
  readonly definitions: ExportDefinitions;

  constructor(scope: Construct, id: string, props: FerryExportProps) {
    super(scope, id);
    const settings = checkProps(props);
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;

    // Each part is created directly on this construct (logical IDs follow the construct path)
    // and in this order, which fixes the order of resources and of the grants' policy statements.
    ({ dataKey: this.dataKey, signingKey: this.signingKey } = exportKeys(this, props.sourceId));
    ({ accessLogs: this.accessLogs, bucket: this.bucket, table: this.table, idempotencyTable: this.idempotencyTable } = exportStore(this, this.dataKey));
    ({ deadLetterQueue: this.deadLetterQueue, queue: this.queue } = exportQueues(this, this.dataKey));
    ({ nexusSecret: this.nexusSecret, webhookSecret: this.webhookSecret } = exportSecrets(this, props.sourceId, props.nexusUrl));

    this.functions = exportFunctions(this, props, settings, logRetention);
    this.webhookUrl = exportTriggers(this, this.functions, props.sourceId, settings);

    this.registrySecrets = grantExportAccess(this, this.functions, props.repositories);
    grantRegistrySecretPrefix(this, this.functions, settings.registrySecretPrefix);
    acknowledgeExportGrants(this, this.functions);

    this.alarms = exportAlarms(this, props.sourceId, props.repositories, settings);
    notifyAlarmTopic(this, this.alarms, props.alarmTopicArn);
    this.dashboard = exportDashboard(this, props.sourceId, props.repositories, settings);

    this.definitions = exportDefinitions(this, props, this.functions, logRetention, { prefix: registrySecretArnPrefix(this, settings.registrySecretPrefix), arns: this.registrySecrets.map((s) => s.secretArn) });
    exportOutputs(this);
  }
}

/** What operators need after a deploy (docs/deploy.md): where to point Nexus, what to fill in, where bundles appear. */
function exportOutputs(ferry: FerryExport): void {
  const output = (id: string, value: string, description: string) => new CfnOutput(ferry, id, { value, description });
  output('WebhookUrl', ferry.webhookUrl.url, 'URL for the Nexus webhook capability (webhook.repository)');
  output('WebhookSecretArn', ferry.webhookSecret.secretArn, 'Secret whose value goes into the Nexus webhook capability');
  output('NexusSecretArn', ferry.nexusSecret.secretArn, 'Put {"username","password"} of the Nexus reader here');
  output('BucketName', ferry.bucket.bucketName, 'Bundles appear under s3://<bucket>/bundles/');
  output('SigningKeyId', ferry.signingKey.keyId, 'KMS key that signs bundles; export its public key for the importer');
  output('QueueUrl', ferry.queue.queueUrl, 'Copy task queue');
  output('DeadLetterQueueUrl', ferry.deadLetterQueue.queueUrl, 'Copy tasks that failed 5 times');
  output('TableName', ferry.table.tableName, 'State table (watermarks, ledgers, bundles)');
}

/** The props with their defaults filled in, once checked. */
export interface ExportSettings {
  scanSchedule: string;
  sealSchedule: string;
  reconcileSchedule: string;
  maxBundleBytes: number;
  sealThresholdBytes: number;
  overlapSeconds: number;
  copyConcurrency: number;
  scanLagAlarmSeconds: number;
  oldestTaskAlarmSeconds: number;
  registrySecretPrefix: string;
}

function checkProps(props: FerryExportProps): ExportSettings {
  const settings: ExportSettings = {
    scanSchedule: props.scanSchedule ?? 'rate(15 minutes)',
    sealSchedule: props.sealSchedule ?? 'rate(1 hour)',
    reconcileSchedule: props.reconcileSchedule ?? 'rate(1 day)',
    maxBundleBytes: props.maxBundleBytes ?? 4 * 2 ** 30,
    sealThresholdBytes: props.sealThresholdBytes ?? props.maxBundleBytes ?? 4 * 2 ** 30,
    overlapSeconds: props.overlapSeconds ?? 600,
    copyConcurrency: props.copyConcurrency ?? 10,
    scanLagAlarmSeconds: props.scanLagAlarmSeconds ?? 3600,
    oldestTaskAlarmSeconds: props.oldestTaskAlarmSeconds ?? 3600,
    registrySecretPrefix: props.registrySecretPrefix ?? `ferry/${props.sourceId}/`,
  };
  const problems = new Problems();
  if (typeof props.sourceId !== 'string' || !SOURCE_ID.test(props.sourceId)) problems.add(`sourceId: must be lowercase letters, digits, . _ - (at most 63), got ${JSON.stringify(props.sourceId)}`);
  problems.httpUrl('nexusUrl', props.nexusUrl);
  problems.repositories('repositories', props.repositories);
  problems.schedule('scanSchedule', settings.scanSchedule);
  problems.schedule('sealSchedule', settings.sealSchedule);
  problems.schedule('reconcileSchedule', settings.reconcileSchedule);
  problems.positiveInt('maxBundleBytes', settings.maxBundleBytes);
  problems.positiveInt('sealThresholdBytes', settings.sealThresholdBytes);
  if (!Number.isInteger(settings.overlapSeconds) || settings.overlapSeconds < 0) problems.add(`overlapSeconds: must be a whole number of seconds, 0 or more, got ${JSON.stringify(settings.overlapSeconds)}`);
  problems.positiveInt('scanLagAlarmSeconds', settings.scanLagAlarmSeconds);
  problems.positiveInt('oldestTaskAlarmSeconds', settings.oldestTaskAlarmSeconds);
  // Secrets Manager name characters; at least two before any wildcard, so it never grants every secret.
  if (props.registrySecretPrefix !== undefined && !/^[A-Za-z0-9/_+=.@-]{2,256}$/.test(props.registrySecretPrefix)) {
    problems.add(`registrySecretPrefix: must be the start of a secret name (2+ of A-Z a-z 0-9 / _ + = . @ -), got ${JSON.stringify(settings.registrySecretPrefix)}`);
  }
  if (!Number.isInteger(settings.copyConcurrency) || settings.copyConcurrency < 2 || settings.copyConcurrency > 1000) problems.add(`copyConcurrency: must be a whole number from 2 to 1000 (SQS maxConcurrency), got ${settings.copyConcurrency}`);
  problems.throwIfAny('FerryExport');
  return settings;
}
