/**
 * The CDK app: what each stack promises (encryption, TLS-only, lifecycle, PITR, DLQ,
 * visibility vs. copy timeout, schedules, alarms, arm64 + nodejs24.x, least privilege), that
 * cdk-nag has nothing unacknowledged, and that the pinned CLI synthesizes offline.
 * The app (with esbuild bundling of every function) is synthesized once for the file.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { REPO_ROOT, type RepositoryConfig } from '../infra/common.ts';
import { lambdaBuildOptions, type FunctionName } from '../infra/lambda-bundling.ts';
import { InfraConfigError } from '../infra/errors.ts';
import { COPY_TIMEOUT, FerryExport } from '../infra/export-construct.ts';
import { defineFerryApp } from '../infra/ferry-app.ts';
import type { FerryExportStack } from '../infra/export-stack.ts';
import type { FerryImportStack } from '../infra/import-stack.ts';
import { FerryChecks } from '../infra/nag.ts';

const CDK_JSON = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { app: string; context: Record<string, unknown> };
const REGISTRY_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry-registry-AbCdEf';
const TARGET_REGISTRY_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry-target-registry-GhIjKl';
const REPOSITORIES = [
  { name: 'raw-releases', format: 'raw' },
  { name: 'raw-snapshots', format: 'raw', target: 'raw-snapshots-mirror' },
  { name: 'docker-hosted', format: 'docker', registry: { url: 'https://nexus.example.com:8083', secretArn: REGISTRY_SECRET_ARN }, tags: { semver: '>=1' }, platforms: ['linux/amd64'] },
  { name: 'maven-public', format: 'maven2', target: 'maven-releases' },
  { name: 'npm-hosted', format: 'npm' },
  { name: 'charts', format: 'helm' },
];
const REGISTRIES = { 'docker-hosted': { url: 'https://nexus.isolated.example:8083', secretArn: TARGET_REGISTRY_SECRET_ARN } };

let dir: string;
let publicKeyPem: string;
let app: App;
let exportStack: FerryExportStack;
let importStack: FerryImportStack;
let exp: Template;
let imp: Template;
let outdir: string;

function exportContext(): Record<string, string> {
  return { sourceId: 'corp-nexus', nexusUrl: 'https://nexus.example.com', repositories: JSON.stringify(REPOSITORIES), maxBundleBytes: '700MB' };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-infra-'));
  publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  outdir = path.join(dir, 'cdk.out');
  app = new App({ outdir, context: { ...CDK_JSON.context, ...exportContext(), targetUrl: 'https://nexus.isolated.example', trustedPublicKeysPem: publicKeyPem, registries: JSON.stringify(REGISTRIES), repositoryMap: JSON.stringify({ 'raw-snapshots-mirror': 'raw-snapshots-isolated' }) } });
  const stacks = defineFerryApp(app);
  exportStack = stacks.exportStack!;
  importStack = stacks.importStack!;
  app.synth();
  exp = Template.fromStack(exportStack);
  imp = Template.fromStack(importStack);
}, 240_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const logicalId = (construct: IConstruct) => Stack.of(construct).getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
const getAtt = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });

function ferryFunctions(): { name: string; id: string; template: Template }[] {
  const f = exportStack.ferry.functions;
  return [
    ...Object.entries(f).map(([name, fn]) => ({ name, id: logicalId(fn), template: exp })),
    { name: 'import', id: logicalId(importStack.ferry.importFunction), template: imp },
  ];
}

function policyStatements(template: Template, role: IConstruct | undefined): { Action: string | string[]; Resource: unknown }[] {
  const roleId = logicalId(role!);
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
}
const actionsOf = (statements: { Action: string | string[] }[]) => statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

describe('FerryExportStack', () => {
  it('keeps blobs and bundles in a KMS-encrypted (customer key), private, versioned bucket that logs its accesses', () => {
    // Prepare
    const { bucket, dataKey, accessLogs } = exportStack.ferry;
    // Act
    const props = exp.toJSON().Resources[logicalId(bucket)].Properties;
    // Assess
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: getAtt(dataKey) });
    expect(props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logicalId(accessLogs) });
    exp.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('expires staging/ after 7 days, aborts incomplete multipart uploads after 1 day and expires noncurrent versions', () => {
    // Prepare
    const rules = exp.toJSON().Resources[logicalId(exportStack.ferry.bucket)].Properties.LifecycleConfiguration.Rules as Record<string, unknown>[];
    // Act
    const staging = rules.find((r) => r.Prefix === 'staging/');
    const abort = rules.find((r) => r.AbortIncompleteMultipartUpload !== undefined);
    const noncurrent = rules.find((r) => r.NoncurrentVersionExpiration !== undefined);
    // Assess
    expect(staging).toMatchObject({ ExpirationInDays: 7, Status: 'Enabled' });
    expect(abort).toMatchObject({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' });
    expect(noncurrent).toMatchObject({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' });
    expect(abort?.Prefix).toBeUndefined();
  });

  it('refuses plain-HTTP access to every bucket and queue (aws:SecureTransport deny)', () => {
    // Prepare
    const deny = Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const { bucket, accessLogs, queue, deadLetterQueue } = exportStack.ferry;
    // Act
    const bucketPolicies = exp.findResources('AWS::S3::BucketPolicy', { Properties: { PolicyDocument: { Statement: Match.arrayWith([deny]) } } });
    const queuePolicies = exp.findResources('AWS::SQS::QueuePolicy', { Properties: { PolicyDocument: { Statement: Match.arrayWith([deny]) } } });
    // Assess
    const bucketsCovered = Object.values(bucketPolicies).map((p) => (p as { Properties: { Bucket: unknown } }).Properties.Bucket);
    expect(bucketsCovered).toEqual(expect.arrayContaining([{ Ref: logicalId(bucket) }, { Ref: logicalId(accessLogs) }]));
    const queuesCovered = Object.values(queuePolicies).flatMap((p) => (p as { Properties: { Queues: unknown[] } }).Properties.Queues);
    expect(queuesCovered).toEqual(expect.arrayContaining([{ Ref: logicalId(queue) }, { Ref: logicalId(deadLetterQueue) }]));
  });

  it('has an on-demand, point-in-time-recoverable, KMS-encrypted state table (pk/sk) and a Powertools idempotency table (id, TTL expiration)', () => {
    // Prepare
    const { table, idempotencyTable, dataKey } = exportStack.ferry;
    const resources = exp.toJSON().Resources;
    // Act
    const state = resources[logicalId(table)].Properties;
    const idem = resources[logicalId(idempotencyTable)].Properties;
    // Assess
    expect(state.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    expect(idem.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect(idem.TimeToLiveSpecification).toEqual({ AttributeName: 'expiration', Enabled: true });
    for (const t of [state, idem]) {
      expect(t.BillingMode).toBe('PAY_PER_REQUEST');
      expect(t.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(t.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: getAtt(dataKey) });
    }
  });

  it('queues copy tasks in a KMS-encrypted queue with a DLQ after 5 receives and a visibility timeout of at least 6× the copy timeout', () => {
    // Prepare
    const { queue, deadLetterQueue, dataKey, functions } = exportStack.ferry;
    const resources = exp.toJSON().Resources;
    // Act
    const q = resources[logicalId(queue)].Properties;
    const dlq = resources[logicalId(deadLetterQueue)].Properties;
    const copyTimeout = resources[logicalId(functions.copy)].Properties.Timeout as number;
    // Assess
    expect(q.RedrivePolicy).toEqual({ deadLetterTargetArn: getAtt(deadLetterQueue), maxReceiveCount: 5 });
    expect(q.KmsMasterKeyId).toEqual(getAtt(dataKey));
    expect(dlq.KmsMasterKeyId).toEqual(getAtt(dataKey));
    expect(copyTimeout).toBe(COPY_TIMEOUT.toSeconds());
    expect(q.VisibilityTimeout).toBeGreaterThanOrEqual(6 * copyTimeout);
  });

  it('feeds copy from SQS with partial-batch failures and a concurrency cap', () => {
    // Prepare
    const { queue, functions } = exportStack.ferry;
    // Act / Assess
    exp.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(queue),
      FunctionName: { Ref: logicalId(functions.copy) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('signs bundles with a KMS ECC_NIST_P256 SIGN_VERIFY key and outputs its id', () => {
    // Prepare
    const { signingKey } = exportStack.ferry;
    // Act
    const key = exp.toJSON().Resources[logicalId(signingKey)].Properties;
    const outputs = exp.findOutputs('*', { Value: { Ref: logicalId(signingKey) } });
    // Assess
    expect(key).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(Object.keys(outputs).some((k) => k.includes('SigningKeyId'))).toBe(true);
  });

  it('generates the Nexus and webhook secrets in Secrets Manager: no secret value is in the template', () => {
    // Prepare / Act
    const secrets = Object.values(exp.findResources('AWS::SecretsManager::Secret')) as { Properties: Record<string, unknown> }[];
    // Assess
    expect(secrets).toHaveLength(2);
    for (const s of secrets) {
      expect(s.Properties.GenerateSecretString).toBeDefined();
      expect(s.Properties.SecretString).toBeUndefined();
    }
  });

  it('exposes the webhook through a Function URL (auth NONE: the HMAC authenticates) and outputs it', () => {
    // Prepare
    const webhookId = logicalId(exportStack.ferry.functions.webhook);
    // Act / Assess
    exp.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [webhookId, 'Arn'] } });
    expect(Object.keys(exp.findOutputs('*')).some((k) => k.includes('WebhookUrl'))).toBe(true);
  });

  it('runs scan, the daily reconcile of deletions (the scan function, told so by its input) and seal on EventBridge schedules', () => {
    // Prepare
    const { scan, seal } = exportStack.ferry.functions;
    // Act / Assess
    exp.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)', Targets: [Match.objectLike({ Arn: getAtt(scan), Input: Match.absent() })] });
    exp.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)', Targets: [Match.objectLike({ Arn: getAtt(scan), Input: '{"reconcile":true}' })] });
    exp.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)', Targets: [Match.objectLike({ Arn: getAtt(seal) })] });
  });

  it('takes the reconcile schedule from -c reconcileSchedule', () => {
    // Prepare: the CLI's context, without bundling (the schedule is all this looks at)
    const context = { ...CDK_JSON.context, ...exportContext(), reconcileSchedule: 'rate(6 hours)', 'aws:cdk:bundling-stacks': [] };
    // Act
    const template = Template.fromStack(defineFerryApp(new App({ context })).exportStack!);
    // Assess
    const scanId = logicalId(exportStack.ferry.functions.scan);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [scanId, 'Arn'] }, Input: '{"reconcile":true}' })] });
    expect(template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(1 day)' } })).toEqual({});
  });

  it.each([
    ['the worst scan lag of a run, which covers repositories defined after the deploy (missing data breaches)', { MetricName: 'ScanLagSecondsMax', Statistic: 'Maximum', TreatMissingData: 'breaching' }],
    ['a reconcile of deletions that failed for any repository (no data: no alarm)', { MetricName: 'ReconcileFailures', Statistic: 'Sum', Threshold: 0, TreatMissingData: 'notBreaching' }],
  ])('alarms on %s, a metric of the scan function without a repository', (_what, alarm) => {
    exp.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Ferry',
      Dimensions: [{ Name: 'service', Value: 'ferry-scan' }],
      ComparisonOperator: 'GreaterThanThreshold',
      ...alarm,
    });
  });

  it('alarms on DLQ depth > 0, on the oldest task age, and on scan lag per repository (missing data breaches)', () => {
    // Prepare
    const { queue, deadLetterQueue } = exportStack.ferry;
    const queueName = (q: IConstruct) => [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(q), 'QueueName'] } }];
    // Act / Assess
    exp.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: queueName(deadLetterQueue),
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    exp.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: queueName(queue), ComparisonOperator: 'GreaterThanThreshold' });
    for (const repository of REPOSITORIES) {
      exp.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Ferry',
        MetricName: 'ScanLagSeconds',
        Dimensions: Match.arrayWith([{ Name: 'repository', Value: repository.name }, { Name: 'service', Value: 'ferry-scan' }]),
        TreatMissingData: 'breaching',
      });
    }
  });

  it('lets webhook, scan and copy read registry secrets named ferry/<sourceId>/… (definitions added later name theirs there), and seal none', () => {
    // Prepare
    const { webhook, scan, copy, seal } = exportStack.ferry.functions;
    const underPrefix = (role: IConstruct | undefined) =>
      policyStatements(exp, role).filter((s) => JSON.stringify(s.Resource).includes(':secret:ferry/corp-nexus/*') && actionsOf([s]).includes('secretsmanager:GetSecretValue'));
    // Act / Assess
    for (const fn of [webhook, scan, copy]) expect(underPrefix(fn.role), fn.node.id).toHaveLength(1);
    expect(underPrefix(seal.role)).toEqual([]);
    expect(JSON.stringify(underPrefix(scan.role)[0]!.Resource)).toContain('{"Ref":"AWS::AccountId"}');
  });

  it('grants each function only what its stage touches', () => {
    // Prepare
    const { webhook, scan, copy, seal } = exportStack.ferry.functions;
    const { signingKey } = exportStack.ferry;
    // Act
    const actions = {
      webhook: actionsOf(policyStatements(exp, webhook.role)),
      scan: actionsOf(policyStatements(exp, scan.role)),
      copy: actionsOf(policyStatements(exp, copy.role)),
      seal: actionsOf(policyStatements(exp, seal.role)),
    };
    const sealKms = policyStatements(exp, seal.role).find((s) => actionsOf([s]).includes('kms:Sign'));
    // Assess
    expect(actions.webhook).toContain('sqs:SendMessage');
    expect(actions.scan).toContain('sqs:SendMessage');
    expect(actions.copy).not.toContain('sqs:SendMessage');
    expect(actions.seal).not.toContain('sqs:SendMessage');
    expect(actions.copy).toEqual(expect.arrayContaining(['s3:PutObject', 'dynamodb:PutItem', 'lambda:InvokeFunction']));
    expect(actions.webhook.some((a) => a.startsWith('s3:'))).toBe(false);
    // Scan only looks at staged blobs (a resend request's blob is fetched again when it is not there).
    expect(actions.scan.filter((a) => a.startsWith('s3:') && !/^s3:(Get|List)/.test(a))).toEqual([]);
    expect(JSON.stringify(policyStatements(exp, scan.role).filter((s) => actionsOf([s]).includes('s3:GetObject*')).map((s) => s.Resource))).toContain('/blobs/*');
    // The webhook writes the state table: a DELETED event's tombstones, a PURGED event's reconcile request.
    const webhookOnTable = policyStatements(exp, webhook.role).filter((s) => s.Resource && JSON.stringify(s.Resource).includes(logicalId(exportStack.ferry.table)));
    expect(actionsOf(webhookOnTable)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Query', 'dynamodb:GetItem']));
    expect(sealKms).toMatchObject({ Action: ['kms:GetPublicKey', 'kms:Sign'], Resource: getAtt(signingKey) });
    for (const fnActions of Object.values(actions)) expect(fnActions.some((a) => a === '*' || a.endsWith(':*'))).toBe(false);
    expect(actions.webhook.concat(actions.scan, actions.copy).some((a) => a === 'kms:Sign')).toBe(false);
    // S3 object grants are limited to the prefixes each stage uses.
    const copyS3 = JSON.stringify(policyStatements(exp, copy.role).filter((s) => actionsOf([s]).includes('s3:PutObject')).map((s) => s.Resource));
    expect(copyS3).toContain('/blobs/*');
    expect(copyS3).toContain('/staging/*');
    expect(copyS3).not.toContain('/bundles/*');
    // Seal stages under sealed/ (never expired, unlike staging/) and publishes to bundles/.
    const sealS3 = JSON.stringify(policyStatements(exp, seal.role).filter((s) => actionsOf([s]).includes('s3:PutObject')).map((s) => s.Resource));
    expect(sealS3).toContain('/sealed/*');
    expect(sealS3).toContain('/bundles/*');
    expect(sealS3).not.toContain('/staging/*');
  });

  it('sets the environment contract on each function', () => {
    // Prepare
    const common = ['FERRY_SOURCE_ID', 'FERRY_TABLE', 'FERRY_BUCKET', 'FERRY_QUEUE_URL', 'FERRY_NEXUS_URL', 'FERRY_NEXUS_SECRET_ARN', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];
    const extra: Record<string, string[]> = {
      webhook: ['FERRY_WEBHOOK_SECRET_ARN', 'FERRY_WEBHOOK_MAX_BYTES', 'FERRY_IDEMPOTENCY_TABLE'],
      scan: ['FERRY_OVERLAP_SECONDS'],
      copy: ['FERRY_IDEMPOTENCY_TABLE', 'FERRY_SEAL_FUNCTION_NAME', 'FERRY_SEAL_THRESHOLD_BYTES'],
      seal: ['FERRY_KMS_KEY_ID', 'FERRY_MAX_BUNDLE_BYTES'],
      import: ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'FERRY_TARGET_URL', 'FERRY_TARGET_SECRET_ARN', 'FERRY_IMPORT_TABLE', 'FERRY_HELD_BUCKET', 'FERRY_TRUSTED_PUBLIC_KEYS', 'FERRY_RECEIPTS_PREFIX', 'FERRY_REGISTRIES', 'FERRY_KMS_KEY_ID', 'FERRY_REPOSITORY_MAP'],
    };
    for (const { name, id, template } of ferryFunctions()) {
      // Act
      const variables = template.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
      const names = Object.keys(variables).filter((k) => k !== 'NODE_OPTIONS');
      // Assess
      expect(names.sort(), name).toEqual([...(name === 'import' ? [] : common), ...extra[name]!].sort());
      expect(variables.POWERTOOLS_METRICS_NAMESPACE).toBe('Ferry');
    }
    const sealVars = exp.toJSON().Resources[logicalId(exportStack.ferry.functions.seal)].Properties.Environment.Variables;
    expect(sealVars.FERRY_MAX_BUNDLE_BYTES).toBe(String(700_000_000));
    // The carried repositories are the sync definitions in the state table (test/definitions-infra.test.ts), not the environment.
  });

  it('lets the functions that talk to registries, and only those, read a docker repository\'s registry secret', () => {
    // Prepare
    const { webhook, scan, copy, seal } = exportStack.ferry.functions;
    const readsRegistrySecret = (fn: typeof seal) =>
      policyStatements(exp, fn.role).some((s) => actionsOf([s]).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource).includes(REGISTRY_SECRET_ARN));
    // Act
    const readers = { webhook: readsRegistrySecret(webhook), scan: readsRegistrySecret(scan), copy: readsRegistrySecret(copy), seal: readsRegistrySecret(seal) };
    // Assess
    expect(readers).toEqual({ webhook: true, scan: true, copy: true, seal: false });
  });
});

describe('FerryImportStack', () => {
  it('triggers the import function on bundles/*.tar uploads to the hardened inbox bucket', () => {
    // Prepare
    const { inbox, held, dataKey, importFunction } = importStack.ferry;
    const resources = imp.toJSON().Resources;
    // Act
    const inboxProps = resources[logicalId(inbox)].Properties;
    const heldProps = resources[logicalId(held)].Properties;
    // Assess
    for (const props of [inboxProps, heldProps]) {
      expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: getAtt(dataKey) });
      expect(props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(props.LoggingConfiguration).toBeDefined();
      expect(props.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })]));
    }
    const notifications = Object.values(imp.findResources('Custom::S3BucketNotifications', { Properties: { BucketName: { Ref: logicalId(inbox) } } })) as {
      Properties: { NotificationConfiguration: { LambdaFunctionConfigurations: { Events: string[]; Filter: { Key: { FilterRules: { Name: string; Value: string }[] } }; LambdaFunctionArn: unknown }[] } };
    }[];
    expect(notifications).toHaveLength(1);
    const [trigger, ...others] = notifications[0]!.Properties.NotificationConfiguration.LambdaFunctionConfigurations;
    expect(others).toEqual([]);
    expect(trigger?.Events).toEqual(['s3:ObjectCreated:*']);
    expect(trigger?.LambdaFunctionArn).toEqual(getAtt(importFunction));
    expect(Object.fromEntries(trigger!.Filter.Key.FilterRules.map((r) => [r.Name, r.Value]))).toEqual({ prefix: 'bundles/', suffix: '.tar' });
    imp.hasResourceProperties('AWS::S3::BucketPolicy', { Bucket: { Ref: logicalId(inbox) }, PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
    // Ops invoke it by name for bundles whose predecessor was lost for good (docs/deploy.md).
    expect(Object.keys(imp.findOutputs('*', { Value: { Ref: logicalId(importFunction) } })).some((k) => k.includes('ImportFunctionName'))).toBe(true);
  });

  it('keeps import state in an on-demand, PITR table (pk/sk) and target credentials in a generated secret', () => {
    // Prepare
    const table = imp.toJSON().Resources[logicalId(importStack.ferry.table)].Properties;
    // Act
    const secrets = Object.values(imp.findResources('AWS::SecretsManager::Secret')) as { Properties: Record<string, unknown> }[];
    // Assess
    expect(table.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    expect(table).toMatchObject({ BillingMode: 'PAY_PER_REQUEST', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
    expect(secrets).toHaveLength(1);
    expect(secrets[0]!.Properties.GenerateSecretString).toBeDefined();
  });

  it('passes the target registries and the repository map to the import function and lets it read the registry secrets', () => {
    // Prepare
    const fn = importStack.ferry.importFunction;
    // Act
    const variables = imp.toJSON().Resources[logicalId(fn)].Properties.Environment.Variables as Record<string, string>;
    const reads = policyStatements(imp, fn.role).filter((s) => actionsOf([s]).includes('secretsmanager:GetSecretValue')).map((s) => JSON.stringify(s.Resource));
    // Assess
    expect(JSON.parse(variables.FERRY_REGISTRIES!)).toEqual(REGISTRIES);
    expect(JSON.parse(variables.FERRY_REPOSITORY_MAP!)).toEqual({ 'raw-snapshots-mirror': 'raw-snapshots-isolated' });
    expect(reads.some((r) => r.includes(TARGET_REGISTRY_SECRET_ARN))).toBe(true);
  });

  it('signs receipts with its own KMS ECC_NIST_P256 key, usable only by the import function, and outputs its id', () => {
    // Prepare
    const { receiptSigningKey, importFunction } = importStack.ferry;
    // Act
    const key = imp.toJSON().Resources[logicalId(receiptSigningKey)].Properties;
    const variables = imp.toJSON().Resources[logicalId(importFunction)].Properties.Environment.Variables;
    const sign = policyStatements(imp, importFunction.role).find((s) => actionsOf([s]).includes('kms:Sign'));
    // Assess
    expect(key).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(variables.FERRY_KMS_KEY_ID).toEqual({ Ref: logicalId(receiptSigningKey) });
    expect(sign).toMatchObject({ Action: ['kms:GetPublicKey', 'kms:Sign'], Resource: getAtt(receiptSigningKey) });
    imp.hasOutput('*', { Value: { Ref: logicalId(receiptSigningKey) } });
  });

  it('passes the trusted public keys to the import function as PEM', () => {
    // Prepare
    const id = logicalId(importStack.ferry.importFunction);
    // Act
    const pem = imp.toJSON().Resources[id].Properties.Environment.Variables.FERRY_TRUSTED_PUBLIC_KEYS as string;
    // Assess
    expect(pem.trim()).toBe(publicKeyPem.trim());
  });

  it('imports one bundle at a time, reading it from S3 with the default /tmp, and keeps failed invocations in a queue with an alarm', () => {
    // Prepare
    const { importFunction, failedImports } = importStack.ferry;
    // Act
    const props = imp.toJSON().Resources[logicalId(importFunction)].Properties;
    // Assess
    expect(props.ReservedConcurrentExecutions).toBe(1);
    // No spool: the bundle is read from the inbox in ranges, so /tmp stays at Lambda's 512 MB default.
    expect(props.EphemeralStorage).toBeUndefined();
    imp.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { DestinationConfig: { OnFailure: { Destination: getAtt(failedImports) } } });
    imp.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(failedImports), 'QueueName'] } }], Threshold: 0 });
  });

  it('refuses a trusted key that is not a PEM public key, naming the prop', () => {
    // Prepare
    const context = { ...CDK_JSON.context, targetUrl: 'https://nexus.isolated.example', trustedPublicKeysPem: 'not a key' };
    // Act
    const act = () => defineFerryApp(new App({ context }));
    // Assess
    expect(act).toThrow(InfraConfigError);
    expect(act).toThrow(/trustedPublicKeysPem: at least one PEM public key/);
  });
});

describe('both stacks', () => {
  it('run every Ferry function on arm64 and nodejs24.x with X-Ray, a sized timeout and log retention', () => {
    for (const { name, id, template } of ferryFunctions()) {
      // Prepare
      const props = template.toJSON().Resources[id].Properties;
      // Act
      const logGroup = template.toJSON().Resources[props.LoggingConfig.LogGroup.Ref].Properties;
      // Assess
      expect(props.Runtime, name).toBe('nodejs24.x');
      expect(props.Architectures, name).toEqual(['arm64']);
      expect(props.TracingConfig, name).toEqual({ Mode: 'Active' });
      expect(props.Timeout, name).toBeGreaterThan(3);
      expect(logGroup.RetentionInDays, name).toBe(90);
    }
    const resources = exp.toJSON().Resources;
    const { copy, seal, scan } = exportStack.ferry.functions;
    expect(resources[logicalId(copy)].Properties.MemorySize).toBe(1024);
    // Sequence numbers and watermarks: one sealer and one scanner at a time.
    expect(resources[logicalId(seal)].Properties.ReservedConcurrentExecutions).toBe(1);
    expect(resources[logicalId(scan)].Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('leave no cdk-nag finding unacknowledged and no warning or error annotation', () => {
    // Prepare
    const packs: NagPack[] = [new AwsSolutionsChecks(), new FerryChecks()];
    // Act
    const violations = packs.flatMap((pack) => pack.validateScope(app).violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`));
    const annotations = [exportStack, importStack].flatMap((stack) => [
      ...Annotations.fromStack(stack).findWarning('*', Match.anyValue()),
      ...Annotations.fromStack(stack).findError('*', Match.anyValue()),
    ]);
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations?: unknown[] }[] };
    // Assess
    expect(violations).toEqual([]);
    expect(annotations.map((a) => `${a.id}: ${String(a.entry.data)}`)).toEqual([]);
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  it('acknowledge only findings that exist, each with a reason', () => {
    // Prepare: the same packs, blind to acknowledgments
    const acknowledged = new Map<string, string>();
    for (const construct of app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) acknowledged.set(`${construct.node.path} ${id.replace(/^[^:]+::/, '')}`, reason);
      }
    }
    // Act
    const found = new Set<string>();
    for (const pack of [new AwsSolutionsChecks(), new FerryChecks()]) {
      (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
      for (const v of pack.validateScope(app).violations) for (const r of v.violatingResources) found.add(`${r.constructPath} ${v.ruleName}`);
    }
    // Assess
    expect(acknowledged.size).toBeGreaterThan(10);
    const stale = [...acknowledged.keys()].filter((key) => {
      const [at, rule] = key.split(' ') as [string, string];
      return !found.has(key) && ![...found].some((f) => f.startsWith(`${at}/`) && f.endsWith(` ${rule}`));
    });
    expect(stale).toEqual([]);
    for (const [key, reason] of acknowledged) expect(reason.length, key).toBeGreaterThan(40);
  });

  it('bundles every function with local esbuild into a minified ESM file of at most 1 MB with a source map, as the shared options build it', async () => {
    const sizes: Record<string, number> = {};
    const shared = await mkdtemp(path.join(tmpdir(), 'ferry-lambda-build-'));
    try {
      for (const { name, id, template } of ferryFunctions()) {
        // Prepare
        const key = template.toJSON().Resources[id].Properties.Code.S3Key as string;
        await build(lambdaBuildOptions(name as FunctionName, path.join(shared, name)));
        // Act
        const assetDir = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
        const bundle = path.join(assetDir, 'index.mjs');
        // Assess
        expect(existsSync(bundle), name).toBe(true);
        expect(existsSync(`${bundle}.map`), name).toBe(true);
        const text = readFileSync(bundle, 'utf8');
        sizes[name] = statSync(bundle).size;
        // Minified: a few very long lines (template literals keep their own newlines).
        expect(sizes[name] / text.split('\n').length, `${name} is minified`).toBeGreaterThan(2000);
        expect(sizes[name], name).toBeLessThanOrEqual(1_000_000);
        // What the benchmark measures is what deploys: infra/lambda-bundling.ts through esbuild's API.
        expect(readFileSync(path.join(shared, name, 'index.mjs'), 'utf8') === text, `${name}: the asset is the shared options' build`).toBe(true);
      }
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
    process.stdout.write(`function bundle sizes (index.mjs, minified): ${Object.entries(sizes).map(([n, s]) => `${n} ${(s / 1024).toFixed(0)} KiB`).join(', ')}\n`);
  });
});

describe('configuration', () => {
  it('names every bad export prop at once', () => {
    // Prepare
    const stack = () => new Stack(new App(), 'Bad');
    // Act
    const act = () =>
      new FerryExport(stack(), 'Ferry', {
        sourceId: 'Corp Nexus',
        nexusUrl: 'ftp://x',
        repositories: [
          { name: 'raw', format: 'conda' as 'raw' },
          { name: 'docker-a', format: 'docker' } as unknown as RepositoryConfig,
          { name: 'docker-b', format: 'docker', registry: { url: 'https://r.example', secretArn: 'ferry-registry' }, tags: { include: '(' } },
        ],
        scanSchedule: 'every hour',
        reconcileSchedule: 'daily',
        registrySecretPrefix: '*',
      });
    // Assess
    expect(act).toThrow(InfraConfigError);
    try {
      act();
    } catch (error) {
      expect((error as InfraConfigError).problems).toEqual([
        expect.stringMatching(/^sourceId: /),
        expect.stringMatching(/^nexusUrl: must be an http\(s\) URL/),
        expect.stringMatching(/^repositories\[0\]\.format: must be one of raw, docker, maven2, npm, pypi, nuget, helm/),
        expect.stringMatching(/^repositories\[1\]\.registry: required for a docker repository/),
        expect.stringMatching(/^repositories\[2\]\.registry\.secretArn: must be the full ARN/),
        expect.stringMatching(/^repositories\[2\]\.tags\.include: not a regular expression/),
        expect.stringMatching(/^scanSchedule: must be an EventBridge rate/),
        expect.stringMatching(/^reconcileSchedule: must be an EventBridge rate/),
        expect.stringMatching(/^registrySecretPrefix: must be the start of a secret name/),
      ]);
    }
  });

  it('says which context to pass when none is given', () => {
    // Prepare
    const empty = new App({ context: CDK_JSON.context });
    // Act / Assess
    expect(() => defineFerryApp(empty)).toThrow(/no stack to define: pass the export side/);
  });
});

describe('the pinned CDK CLI', () => {
  it('synthesizes both stacks offline with no credentials (cdk synth --quiet exits 0)', async () => {
    // Prepare
    const out = path.join(dir, 'cli.out');
    const keyFile = path.join(dir, 'trusted.pem');
    await writeFile(keyFile, publicKeyPem);
    const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none') };
    for (const key of Object.keys(env)) if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|REGION|DEFAULT_REGION)$/.test(key)) delete env[key];
    delete env.NODE_ENV;
    delete env.VITEST;
    const context = Object.entries({ ...exportContext(), targetUrl: 'https://nexus.isolated.example', trustedPublicKeysFile: keyFile }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    // Act
    const result = await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', out, ...context], { cwd: REPO_ROOT, env });
    // Assess
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(path.join(out, 'FerryExportStack.template.json'))).toBe(true);
    expect(existsSync(path.join(out, 'FerryImportStack.template.json'))).toBe(true);
  }, 300_000);
});

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
