/**
 * cdk-nag wiring. Every finding is either fixed or acknowledged on the narrowest construct
 * with a reason that is true of this deployment; nothing is acknowledged stack-wide.
 */
import { CfnResource, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, NagMessageLevel, NagPack, rules, type NagPackProps } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Rules cdk-nag ships outside its packs that matter here: a public Function URL must be a
 * decision someone wrote down, and an SQS-triggered function must fit in the queue's
 * visibility timeout.
 */
export class FerryChecks extends NagPack {
  readonly name = 'Ferry';
  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'Ferry';
  }
  protected checkResource(node: CfnResource): void {
    this.applyRule({
      info: 'The Lambda Function URL allows unauthenticated access.',
      explanation: 'A Function URL with authType NONE can be invoked by anyone on the internet; the function itself must authenticate every request.',
      level: NagMessageLevel.ERROR,
      rule: rules.lambda.LambdaFunctionUrlAuth,
      node,
    });
    this.applyRule({
      info: "The SQS queue's visibility timeout is shorter than six times the timeout of the Lambda function it triggers.",
      explanation: 'A shorter visibility timeout lets a message reappear while a slow invocation still works on it, so it would be processed twice.',
      level: NagMessageLevel.ERROR,
      rule: rules.lambda.LambdaEventSourceSQSVisibilityTimeout,
      node,
    });
  }
}

/** Registers the AWS Solutions pack and {@link FerryChecks} on the app: findings fail the synth. */
export function addNagChecks(scope: IConstruct): void {
  Validations.of(scope).addPlugins(new AwsSolutionsChecks(scope), new FerryChecks(scope));
}

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** How cdk-nag spells a construct's ARN inside an IAM5 finding: `<LogicalId.Arn>`. */
export function arnToken(construct: IConstruct): string {
  const element = (CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild) as CfnElement;
  return `<${Stack.of(construct).getLogicalId(element)}.Arn>`;
}

/** The wildcard findings the CDK grant helpers produce, with the reasons that hold for Ferry. */
export const GRANT_REASONS = {
  xray: 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions; Lambda active tracing needs them on "*".',
  kmsReEncrypt: 'kms:ReEncrypt* is what the CDK grant adds for SSE-KMS on this stack\'s own customer-managed data key; the statement is limited to that single key ARN.',
  kmsGenerateDataKey: 'kms:GenerateDataKey* is what the CDK grant adds for SSE-KMS on this stack\'s own customer-managed data key; the statement is limited to that single key ARN.',
  s3GetObject: 's3:GetObject* (GetObject, GetObjectAttributes, GetObjectVersion…) is the CDK read grant; it applies only to the object prefix named in the same statement.',
  s3GetBucket: 's3:GetBucket* (location, versioning) is the CDK read grant and applies only to this one bucket ARN.',
  s3List: 's3:List* lets the adapter tell a missing object (404) from a forbidden one (403) and list its prefix; it applies only to this one bucket ARN.',
  s3DeleteObject: 's3:DeleteObject* is needed to replace an unfinished object and to delete staging temporaries; it applies only to the object prefix named in the same statement.',
  s3Abort: 's3:Abort* (AbortMultipartUpload) lets a failed streaming upload clean up its parts; it applies only to the object prefix named in the same statement.',
} as const;

/** Acknowledges each IAM5 finding on a Lambda role's policy. `findings` maps finding → reason. */
export function acknowledgeRoleFindings(role: IRole | undefined, findings: Record<string, string>): void {
  if (role === undefined) throw new Error('acknowledgeRoleFindings: the function has no role');
  for (const [finding, reason] of Object.entries(findings)) acknowledge(role, `AwsSolutions-IAM5[${finding}]`, reason);
}
