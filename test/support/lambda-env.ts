/**
 * An environment each function's contract (functions/env.ts) accepts at load, as a
 * deployment would set it, for loading a built bundle in a fresh process (the bundle test,
 * the benchmark). Names only: nothing is called at load.
 */
import type { FunctionName } from '../../infra/lambda-bundling.ts';

export function lambdaEnv(name: FunctionName, trustedPublicKeyPem: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: `ferry-${name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    POWERTOOLS_SERVICE_NAME: `ferry-${name}`,
    POWERTOOLS_METRICS_NAMESPACE: 'Ferry',
    FERRY_SOURCE_ID: 'corp-nexus',
    FERRY_TABLE: 'ferry-export',
    FERRY_BUCKET: 'ferry-blobs',
    FERRY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ferry-tasks',
    FERRY_NEXUS_URL: 'https://nexus.example.com',
    FERRY_WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry-webhook-AbCdEf',
    FERRY_IDEMPOTENCY_TABLE: 'ferry-idempotency',
    FERRY_KMS_KEY_ID: 'alias/ferry',
    FERRY_REGISTRY_SECRET_ARN_PREFIX: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/corp-nexus/',
    FERRY_TARGET_URL: 'https://nexus.isolated.example',
    FERRY_IMPORT_TABLE: 'ferry-import',
    FERRY_HELD_BUCKET: 'ferry-held',
    FERRY_TRUSTED_PUBLIC_KEYS: trustedPublicKeyPem,
  };
}

/**
 * The part of a function's environment that points its SDK clients at the emulators (the
 * SDK's own endpoint variables: the handlers have no endpoint code) and sets Powertools up
 * for tests: dev mode, with metrics on, since the EMF records are asserted on.
 */
export function emulatorEnv(service: string, endpoints: { aws: string; dynamo: string }, credentials: { accessKeyId: string; secretAccessKey: string }): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoints.aws,
    AWS_ENDPOINT_URL_SQS: endpoints.aws,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamo,
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: 'Ferry',
    POWERTOOLS_DEV: 'true',
    // Dev mode turns metrics off unless told otherwise.
    POWERTOOLS_METRICS_DISABLED: 'false',
  };
}

