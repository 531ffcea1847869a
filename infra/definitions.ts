/**
 * Sync definitions on the export side: the carried repositories live in the state table,
 * seeded from the `repositories` context at the first deploy and managed afterwards by API
 * — an IAM-authenticated Function URL (functions/definitions.ts) or `ferry definitions
 * --table` — so adding or removing a repository is no redeploy. Webhook, scan and copy read
 * them from the table at each invocation.
 *
 * The seed is a custom resource sending one PutItem conditional on the source having no
 * definitions item (shared/adapters/aws/dynamo-definitions.ts, seedPutItemInput), its
 * ConditionalCheckFailedException ignored: a redeploy, whatever its context says, never
 * overwrites what the API changed. Chosen over seeding lazily from each function's
 * environment because it happens once, at deploy, before any function runs (they depend on
 * it), and fails the deploy loudly if it cannot; because no function then needs write access
 * to the table just to seed (the webhook's stays read-only) nor a stale copy of the
 * repositories in its environment (which Lambda caps at 4 KB in all); and because the
 * definitions are there to list and change right after the deploy.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId, type AwsSdkCall } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import type { PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { DEFINITIONS_PK, secretPolicyPutItemInput, seedPutItemInput } from '../shared/adapters/aws/dynamo-definitions.ts';
import { seedDefinitions } from '../shared/config/definitions.ts';
import { ferryFunction } from './common.ts';
import type { FerryExportProps } from './export-construct.ts';
import type { ExportFunctions } from './export-functions.ts';
import type { ExportResources } from './export-storage.ts';
import { acknowledge, acknowledgeRoleFindings, GRANT_REASONS } from './nag.ts';

export interface ExportDefinitions {
  /** The definitions API behind {@link url}. */
  function: NodejsFunction;
  /** AWS_IAM: every request SigV4-signed; the caller's ARN is recorded with each change. */
  url: FunctionUrl;
  /** Writes the context's repositories once, if the source has no definitions yet. */
  seed: AwsCustomResource;
  /** Writes, at every deploy, which registry secrets the functions can read (checked by every writer). */
  secretPolicy: AwsCustomResource;
}

/** KMS actions DynamoDB needs of a caller on a table under the data key, without wildcards. */
const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'];

/**
 * `registrySecrets`: which registry secrets the functions can read — every ARN starting with
 * `prefix`, and the ones the deploy named — so the API can refuse a definition naming another.
 */
export function exportDefinitions(
  ferry: Construct & ExportResources,
  props: FerryExportProps,
  functions: ExportFunctions,
  logRetention: RetentionDays,
  registrySecrets: { prefix: string; arns: string[] },
): ExportDefinitions {
  const { table, dataKey } = ferry;
  const definitionsItems = (keys: string[]) =>
    new PolicyStatement({ resources: [table.tableArn], conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': keys } } });

  const fn = ferryFunction(ferry, 'Definitions', 'definitions', {
    description: 'Sync definitions API: lists, reads, creates, replaces and removes the carried repositories, recording who and when',
    memorySize: 256,
    timeout: Duration.seconds(15),
    logRetention,
    environment: {
      FERRY_SOURCE_ID: props.sourceId,
      FERRY_TABLE: table.tableName,
      FERRY_REGISTRY_SECRET_ARN_PREFIX: registrySecrets.prefix,
      ...(registrySecrets.arns.length > 0 ? { FERRY_REGISTRY_SECRET_ARNS: registrySecrets.arns.join(',') } : {}),
    },
  });
  // Only the definitions items and their change records, nothing else of the state table.
  const api = definitionsItems([DEFINITIONS_PK, `${DEFINITIONS_PK}#${props.sourceId}`]);
  api.addActions('dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query');
  fn.addToRolePolicy(api);
  dataKey.grant(fn, ...TABLE_KEY_ACTIONS);
  acknowledgeRoleFindings(fn.role, { 'Resource::*': GRANT_REASONS.xray });
  const url = fn.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });

  /** A PutItem the stack sends at create and at every update, with leave to write only the items under `leadingKey`. */
  const putAtDeploy = (id: string, physicalId: string, leadingKey: string, put: PutItemCommandInput, extra: Partial<AwsSdkCall> = {}) => {
    const write = definitionsItems([leadingKey]);
    write.addActions('dynamodb:PutItem');
    const call: AwsSdkCall = { service: 'DynamoDB', action: 'PutItem', parameters: put, physicalResourceId: PhysicalResourceId.of(`${physicalId}-${props.sourceId}`), ...extra };
    const resource = new AwsCustomResource(ferry, id, {
      onCreate: call,
      onUpdate: call,
      policy: AwsCustomResourcePolicy.fromStatements([write]),
      installLatestAwsSdk: false,
      timeout: Duration.minutes(2),
      logGroup: new LogGroup(ferry, `${id}Logs`, { retention: logRetention, removalPolicy: RemovalPolicy.RETAIN }),
    });
    dataKey.grant(resource, ...TABLE_KEY_ACTIONS);
    return resource;
  };
  const seed = putAtDeploy('DefinitionsSeed', 'ferry-definitions-seed', DEFINITIONS_PK, seedPutItemInput(table.tableName, seedDefinitions(props.sourceId, props.repositories, Stack.of(ferry).stackId)), {
    // Already seeded (an update, or a redeploy of a changed context): the table wins.
    ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
  });
  // The registry secrets the functions can read, for `ferry definitions put --table` to check
  // as the API does: written at every deploy, so it follows the prefix and the context.
  const secretPolicy = putAtDeploy('DefinitionsSecretPolicy', 'ferry-definitions-secret-policy', `${DEFINITIONS_PK}#${props.sourceId}`, secretPolicyPutItemInput(table.tableName, props.sourceId, registrySecrets));
  // The functions that read the definitions exist (and so run) only once the seed is written.
  for (const reader of [functions.webhook, functions.scan, functions.copy]) reader.node.addDependency(seed);
  acknowledgeSeedProvider(ferry);

  new CfnOutput(ferry, 'DefinitionsUrl', { value: url.url, description: 'Sync definitions API (AWS_IAM): GET/PUT/DELETE /repositories/{name}; or ferry definitions --table' });
  return { function: fn, url, seed, secretPolicy };
}

/** The custom resource's provider: one Lambda the CDK shares stack-wide (`AWS<uuid>`), with the managed logging policy. */
function acknowledgeSeedProvider(ferry: Construct): void {
  const provider = Stack.of(ferry).node.findChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
  acknowledge(provider, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'The CDK-provided provider of the definitions seed (AwsCustomResource) runs once per deploy and writes only its own logs with the AWS managed basic execution policy; its data access is the single conditional PutItem on the definitions item.');
}
