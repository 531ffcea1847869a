/**
 * The sync definitions in the export stack: an AWS_IAM Function URL in front of the
 * definitions function, whose role reaches only the definitions items; the seed custom
 * resource sending exactly the conditional PutItem the adapter builds (what
 * test/definitions-store.test.ts runs against DynamoDB Local), before any function that reads
 * the definitions exists; and no function carrying the repositories in its environment.
 * cdk-nag over the whole app is test/infra.test.ts's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { marshall } from '@aws-sdk/util-dynamodb';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/common.ts';
import { FerryExportStack } from '../infra/export-stack.ts';
import { definitionsItem } from '../shared/adapters/aws/dynamo-definitions.ts';
import { seedDefinitions } from '../shared/config/definitions.ts';

const REPOSITORIES = [
  { name: 'raw-releases', format: 'raw' as const },
  { name: 'docker-hosted', format: 'docker' as const, registry: { url: 'https://nexus.example.com:8083' }, tags: { semver: '>=1' } },
];

let stack: FerryExportStack;
let template: Template;

beforeAll(() => {
  // The app's own feature flags (cdk.json), as infra/app.ts runs with them.
  const { context } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ context });
  stack = new FerryExportStack(app, 'FerryExportStack', { sourceId: 'corp-nexus', nexusUrl: 'https://nexus.example.com', repositories: REPOSITORIES });
  template = Template.fromStack(stack);
}, 120_000);

const logicalId = (construct: IConstruct) => Stack.of(construct).getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);

/** A template value with its intrinsics written out as `<Ref:Id>` / `<GetAtt:Id.Attr>`: what CloudFormation would join. */
function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string; 'Fn::GetAtt'?: string[] };
  if (v['Fn::Join']) return v['Fn::Join'][1].map(joined).join(v['Fn::Join'][0]);
  if (v.Ref) return `<Ref:${v.Ref}>`;
  if (v['Fn::GetAtt']) return `<GetAtt:${v['Fn::GetAtt'].join('.')}>`;
  throw new Error(`unexpected template value ${JSON.stringify(value)}`);
}

describe('sync definitions in the export stack', () => {
  it('serves the definitions function through a Function URL with AWS_IAM auth, and outputs its URL', () => {
    // Prepare
    const fnId = logicalId(stack.ferry.definitions.function);
    // Act
    const urls = template.findResources('AWS::Lambda::Url', { Properties: { TargetFunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] } } });
    // Assess
    expect(Object.values(urls).map((u) => (u as { Properties: { AuthType: string } }).Properties.AuthType)).toEqual(['AWS_IAM']);
    expect(Object.keys(template.findOutputs('*')).some((k) => k.includes('DefinitionsUrl'))).toBe(true);
    const props = template.toJSON().Resources[fnId].Properties;
    expect(props.Runtime).toBe('nodejs24.x');
    expect(Object.keys(props.Environment.Variables).filter((k) => k !== 'NODE_OPTIONS').sort()).toEqual([
      'FERRY_REGISTRY_SECRET_ARN_PREFIX',
      'FERRY_SOURCE_ID',
      'FERRY_TABLE',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ]);
    expect(props.Environment.Variables.FERRY_SOURCE_ID).toBe('corp-nexus');
    // What the API lets a docker definition name: secrets under ferry/<sourceId>/ of this account and region
    expect(joined(props.Environment.Variables.FERRY_REGISTRY_SECRET_ARN_PREFIX)).toBe('arn:<Ref:AWS::Partition>:secretsmanager:<Ref:AWS::Region>:<Ref:AWS::AccountId>:secret:ferry/corp-nexus/');
  });

  it('lets the definitions function reach only the definitions items of the state table', () => {
    // Prepare
    const roleId = logicalId(stack.ferry.definitions.function.role!);
    const tableArn = { 'Fn::GetAtt': [logicalId(stack.ferry.table), 'Arn'] };
    // Act
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }));
    const statements = policies.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] } } }).Properties.PolicyDocument.Statement);
    const onTable = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(tableArn));
    // Assess
    expect(onTable).toEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'], Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['DEFINITIONS', 'DEFINITIONS#corp-nexus'] } } }),
    ]);
    expect(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).filter((a) => a.startsWith('dynamodb:') && !['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'].includes(a))).toEqual([]);
  });

  it('seeds the context\'s repositories with one PutItem written only while the source has none, before the functions that read them', () => {
    // Prepare
    const seedId = logicalId(stack.ferry.definitions.seed);
    const resource = template.toJSON().Resources[seedId] as { Type: string; Properties: { Create: unknown; Update: unknown } };
    // Act
    const create = JSON.parse(joined(resource.Properties.Create)) as { service: string; action: string; parameters: Record<string, unknown>; ignoreErrorCodesMatching: string };
    const update = JSON.parse(joined(resource.Properties.Update));
    // Assess
    expect(resource.Type).toBe('Custom::AWS');
    expect(create).toMatchObject({ service: 'DynamoDB', action: 'PutItem', ignoreErrorCodesMatching: 'ConditionalCheckFailedException' });
    expect(create.parameters).toEqual({
      TableName: `<Ref:${logicalId(stack.ferry.table)}>`,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: marshall(definitionsItem(seedDefinitions('corp-nexus', REPOSITORIES, '<Ref:AWS::StackId>'))),
    });
    expect(update).toEqual(create);
    const { webhook, scan, copy } = stack.ferry.functions;
    for (const reader of [webhook, scan, copy]) expect(template.toJSON().Resources[logicalId(reader)].DependsOn, reader.node.id).toContain(seedId);
  });

  it('writes at every deploy, unconditionally, which registry secrets the functions can read, for every writer of definitions to check', () => {
    // Prepare
    const policyId = logicalId(stack.ferry.definitions.secretPolicy);
    const resource = template.toJSON().Resources[policyId] as { Type: string; Properties: { Create: unknown; Update: unknown } };
    // Act
    const create = JSON.parse(joined(resource.Properties.Create)) as { service: string; action: string; parameters: { TableName: string; Item: Record<string, unknown>; ConditionExpression?: string } };
    const update = JSON.parse(joined(resource.Properties.Update));
    // Assess
    expect(resource.Type).toBe('Custom::AWS');
    expect(create).toMatchObject({ service: 'DynamoDB', action: 'PutItem' });
    expect(create.parameters.ConditionExpression).toBeUndefined();
    expect(create.parameters.Item).toEqual({
      pk: { S: 'DEFINITIONS#corp-nexus' },
      sk: { S: 'POLICY#registry-secrets' },
      prefix: { S: 'arn:<Ref:AWS::Partition>:secretsmanager:<Ref:AWS::Region>:<Ref:AWS::AccountId>:secret:ferry/corp-nexus/' },
      arns: { L: [] },
    });
    expect(update).toEqual(create);
  });

  it('gives no function the repositories in its environment: they read the definitions from the table', () => {
    // Act
    const variables = Object.values(template.findResources('AWS::Lambda::Function')).flatMap((f) => Object.keys((f as { Properties: { Environment?: { Variables?: object } } }).Properties.Environment?.Variables ?? {}));
    // Assess
    expect(variables).not.toContain('FERRY_REPOSITORIES');
    expect(variables).toContain('FERRY_TABLE');
  });
});
