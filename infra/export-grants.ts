/**
 * Least privilege on the export side: each function gets what its stage touches, nothing
 * more, and every wildcard the CDK grants produce is acknowledged for cdk-nag with the
 * reason it holds here.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { importedSecrets, type RepositoryConfig } from './common.ts';
import type { ExportFunctions } from './export-functions.ts';
import type { ExportResources } from './export-storage.ts';
import { acknowledgeRoleFindings, arnToken, GRANT_REASONS } from './nag.ts';

/** What each bucket prefix holds, for the reasons of prefix-scoped findings. */
const PREFIX_PURPOSE: Record<string, string> = {
  staging: 'temporaries of uploads in progress, expired after 7 days',
  blobs: 'content-addressed blobs (blobs/sha256/<hex>)',
  bundles: 'published bundle tar files (the outbox ops download from)',
  sealed: 'bundles sealed and recorded, not yet published (never expired: a crash in between is finished by the next seal)',
};

/**
 * Grants each function its stage's access to `ferry`'s resources, and imports the docker
 * repositories' registry secrets (returned) for the functions that talk to the registries.
 */
export function grantExportAccess(ferry: Construct & ExportResources, functions: ExportFunctions, repositories: RepositoryConfig[]): ISecret[] {
  const { bucket, table, idempotencyTable, queue, nexusSecret, webhookSecret, signingKey } = ferry;
  const { webhook, scan, copy, seal } = functions;
  queue.grantSendMessages(webhook);
  webhookSecret.grantRead(webhook);
  nexusSecret.grantRead(webhook);
  idempotencyTable.grantReadWriteData(webhook);
  // Reads skip assets whose content is already recorded; writes record what a DELETED event
  // carries (tombstones) and what a PURGED one asks for (a reconcile request). Sync
  // definitions change by API without a deploy, so this cannot hang on `deletions: carry`.
  table.grantReadWriteData(webhook);

  queue.grantSendMessages(scan);
  table.grantReadWriteData(scan);
  nexusSecret.grantRead(scan);
  // A resend request's blob that is not staged is fetched again: scan looks whether it is.
  bucket.grantRead(scan, 'blobs/*');

  bucket.grantReadWrite(copy, 'staging/*');
  bucket.grantReadWrite(copy, 'blobs/*');
  table.grantReadWriteData(copy);
  idempotencyTable.grantReadWriteData(copy);
  nexusSecret.grantRead(copy);
  seal.grantInvoke(copy);

  // Registry credentials of docker repositories that have their own (the rest use the Nexus
  // secret): read by every function that talks to the registries, never by seal.
  const registrySecrets = importedSecrets(ferry, repositories.map((r) => (r.format === 'docker' ? r.registry?.secretArn : undefined)), [webhook, scan, copy]);

  bucket.grantRead(seal, 'blobs/*');
  bucket.grantReadWrite(seal, 'sealed/*');
  bucket.grantReadWrite(seal, 'bundles/*');
  table.grantReadWriteData(seal);
  signingKey.grant(seal, 'kms:Sign', 'kms:GetPublicKey');
  return registrySecrets;
}

/** Acknowledges the IAM5 wildcard findings of {@link grantExportAccess} on each function's role. */
export function acknowledgeExportGrants(resources: ExportResources, functions: ExportFunctions): void {
  const { webhook, scan, copy, seal } = functions;
  const bucketArn = arnToken(resources.bucket);
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
}

/** The ARN every secret named `<prefix>…` of this stack's account and region starts with. */
export function registrySecretArnPrefix(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: prefix, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/**
 * Lets the functions that talk to registries read every secret named `<prefix>…`: a docker
 * repository defined through the definitions API names its credentials there, with no
 * redeploy (the API refuses any other secret the deploy did not name). Secrets under a
 * customer-managed KMS key also need that key to let the roles decrypt.
 */
export function grantRegistrySecretPrefix(ferry: Construct, functions: ExportFunctions, prefix: string): void {
  const statement = new PolicyStatement({
    actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
    resources: [`${registrySecretArnPrefix(ferry, prefix)}*`],
  });
  for (const fn of [functions.webhook, functions.scan, functions.copy]) {
    fn.addToRolePolicy(statement);
    acknowledgeRoleFindings(fn.role, {
      [`Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${prefix}*`]:
        `Registry credentials of repositories defined at run time (definitions API): only secrets whose name starts with ${prefix}, in this account and region; the API refuses any other secret.`,
    });
  }
}
