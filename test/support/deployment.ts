/**
 * The serverless deployment the deployed-flow tests run on: the emulators (fauxqs for S3 +
 * SQS, DynamoDB Local), two Nexus stand-ins, a bucket, queue and tables per test, and the
 * functions loaded cold with their environment. Secrets Manager, KMS (signing with a real
 * local P-256 key) and the Lambda API are the only services mocked (aws-sdk-client-mock).
 * Importing this module registers the hooks that set each test up and tear it down.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { CopyObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject, vi } from 'vitest';
import { seedPutItemInput } from '../../shared/adapters/aws/dynamo-definitions.ts';
import { createTableInput } from '../../shared/adapters/aws/dynamo-export-state.ts';
import { seedDefinitions } from '../../shared/config/definitions.ts';
import { createImportTableInput } from '../../shared/adapters/aws/dynamo-import-state.ts';
import { makeS3Client, makeSqsClient, startEmulators, type Emulators } from './emulators.ts';
import { makeWorld, type World } from './world.ts';
import { makeImageWorld, type ImageWorld } from './image-world.ts';
import { lambdaContext as lambdaContextOf, sqsEvent, urlEvent } from './lambda-events.ts';
import { emulatorEnv } from './lambda-env.ts';

export const WEBHOOK_SECRET = 'deployed-flow-s3cret';
export const WEBHOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-webhook';
export const NEXUS_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-nexus';
export const KMS_KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/ferry-signing';
export const TARGET_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-target';
export const SOURCE_USER = { username: 'ferry-reader', password: 'source-pa55' };
/** The target stand-in's user in test/support/world.ts. */
export const TARGET_USER = { username: 'ferry-writer', password: 'target-pa55' };
export const region = 'us-east-1';
// DynamoDB Local accepts access key ids of letters and digits only.
export const credentials = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' };

// ───────────────────────────── emulators, KMS, Secrets Manager ─────────────────────────────

let ownEmulators: Emulators | undefined;
export let awsEndpoint: string;
export let dynamoEndpoint: string;

beforeAll(async () => {
  // Provided once per run by the global setup; started here when a run has none.
  const provided = { aws: inject('awsEndpoint') as string | undefined, dynamo: inject('dynamoEndpoint') as string | undefined };
  if (provided.aws === undefined || provided.dynamo === undefined) {
    ownEmulators = await startEmulators();
    awsEndpoint = ownEmulators.awsEndpoint;
    dynamoEndpoint = ownEmulators.dynamoEndpoint;
  } else {
    awsEndpoint = provided.aws;
    dynamoEndpoint = provided.dynamo;
  }
}, 120_000);
afterAll(async () => ownEmulators?.stop());

export const secrets = mockClient(SecretsManagerClient);
export const kms = mockClient(KMSClient);
/** Copy's early seal invokes the seal function through the Lambda API (mocked: no Lambda service here). */
export const lambda = mockClient(LambdaClient);
export let signingKey: { privateKey: KeyObject; publicKey: KeyObject };

/** KMS as the signer sees it: GetPublicKey (SPKI DER) and Sign (ECDSA_SHA_256, DER). */
function fakeKms(): void {
  kms.on(GetPublicKeyCommand, { KeyId: KMS_KEY_ID }).resolves({
    KeyId: KMS_KEY_ID,
    KeySpec: 'ECC_NIST_P256',
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: ['ECDSA_SHA_256'],
    PublicKey: new Uint8Array(signingKey.publicKey.export({ type: 'spki', format: 'der' })),
  });
  kms.on(SignCommand, { KeyId: KMS_KEY_ID }).callsFake((input: { Message: Uint8Array; MessageType?: string; SigningAlgorithm: string }) => {
    if (input.SigningAlgorithm !== 'ECDSA_SHA_256') throw new Error(`unexpected signing algorithm ${input.SigningAlgorithm}`);
    // node:crypto cannot sign a precomputed digest; manifests in these tests stay under KMS's 4096-byte RAW limit.
    if (input.MessageType !== 'RAW') throw new Error('this fake KMS signs RAW messages only');
    return { KeyId: KMS_KEY_ID, SigningAlgorithm: 'ECDSA_SHA_256', Signature: new Uint8Array(sign('sha256', input.Message, { key: signingKey.privateKey, dsaEncoding: 'der' })) };
  });
}

// ───────────────────────────── per-test deployment ─────────────────────────────

export interface Deployment {
  world: World;
  /** With `images`: source and target registries and the Nexus stand-ins that front them. */
  images?: ImageWorld;
  bucket: string;
  queueUrl: string;
  handlers: {
    webhook: typeof import('../../functions/webhook.ts').handler;
    copy: typeof import('../../functions/copy.ts').handler;
    seal: typeof import('../../functions/seal.ts').handler;
    scan: typeof import('../../functions/scan.ts').handler;
    import: typeof import('../../functions/import.ts').handler;
  };
  inbox: string;
  /** The export side's DynamoDB state table. */
  table: string;
}

let deployment: Deployment | undefined;

beforeEach(() => {
  secrets.reset();
  kms.reset();
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  secrets.on(GetSecretValueCommand, { SecretId: WEBHOOK_SECRET_ARN }).resolves({ SecretString: WEBHOOK_SECRET });
  secrets.on(GetSecretValueCommand, { SecretId: NEXUS_SECRET_ARN }).resolves({ SecretString: JSON.stringify(SOURCE_USER) });
  secrets.on(GetSecretValueCommand, { SecretId: TARGET_SECRET_ARN }).resolves({ SecretString: JSON.stringify(TARGET_USER) });
  fakeKms();
  // Lambda logs are JSON lines on stdout; keep the test output readable.
  for (const method of ['log', 'info', 'warn', 'debug'] as const) vi.spyOn(console, method).mockImplementation(() => undefined);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await deployment?.world.close();
  await deployment?.images?.close();
  deployment = undefined;
});

/** Creates the bucket, queue and tables of one deployment, sets the functions' env, loads them cold. */
export async function deploy(options: { pageSize?: number; images?: boolean; sealThresholdBytes?: number; helm?: boolean } = {}): Promise<Deployment> {
  const world = options.helm
    ? await makeWorld({ format: 'helm', repositories: ['helm-hosted'] })
    : await makeWorld({ repositories: ['raw-a'], source: options.pageSize ? { pageSize: options.pageSize } : {} });
  const images = options.images ? await makeImageWorld({ targetRepository: 'docker-isolated' }) : undefined;
  const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const bucket = `ferry-flow-${suffix}`;
  const table = `ferry-state-${suffix}`;
  const idempotencyTable = `ferry-idempotency-${suffix}`;
  const s3 = makeS3Client(awsEndpoint);
  const sqs = makeSqsClient(awsEndpoint);
  const dynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const created = await sqs.send(new CreateQueueCommand({ QueueName: `ferry-tasks-${suffix}`, Attributes: { VisibilityTimeout: '60' } }));
  // fauxqs names queues sqs.<region>.localhost; the SDK sends to the queue URL's host, so
  // point that at the emulator (as a real queue URL points at the real SQS endpoint).
  const QueueUrl = String(created.QueueUrl).replace(/^https?:\/\/[^/]+/, awsEndpoint);
  await dynamo.send(new CreateTableCommand(createTableInput(table)));
  // The carried repositories: the sync definitions in the state table, written as the stack's seed writes them.
  const repositories = images
    ? [{ name: 'docker-hosted', format: 'docker', registry: { url: images.source.url } }]
    : [{ name: options.helm ? 'helm-hosted' : 'raw-a', format: options.helm ? 'helm' : 'raw' }];
  await dynamo.send(new PutItemCommand(seedPutItemInput(table, seedDefinitions('test-source', repositories, 'arn:aws:cloudformation:us-east-1:123456789012:stack/test'))));
  await dynamo.send(
    new CreateTableCommand({
      TableName: idempotencyTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  // The isolated side's own bucket, held-blob bucket and table, for the import function.
  const inbox = `ferry-inbox-${suffix}`;
  const held = `ferry-held-${suffix}`;
  const importTable = `ferry-import-${suffix}`;
  await s3.send(new CreateBucketCommand({ Bucket: inbox }));
  await s3.send(new CreateBucketCommand({ Bucket: held }));
  await dynamo.send(new CreateTableCommand(createImportTableInput(importTable)));
  dynamo.destroy();
  const env: Record<string, string> = {
    ...emulatorEnv('ferry-flow', { aws: awsEndpoint, dynamo: dynamoEndpoint }, credentials),
    FERRY_SOURCE_ID: 'test-source',
    FERRY_TABLE: table,
    FERRY_BUCKET: bucket,
    FERRY_QUEUE_URL: String(QueueUrl),
    FERRY_NEXUS_URL: world.source.url,
    FERRY_NEXUS_SECRET_ARN: NEXUS_SECRET_ARN,
    FERRY_WEBHOOK_SECRET_ARN: WEBHOOK_SECRET_ARN,
    FERRY_IDEMPOTENCY_TABLE: idempotencyTable,
    FERRY_KMS_KEY_ID: KMS_KEY_ID,
    FERRY_TARGET_URL: world.target.url,
    FERRY_TARGET_SECRET_ARN: TARGET_SECRET_ARN,
    FERRY_IMPORT_TABLE: importTable,
    FERRY_HELD_BUCKET: held,
    FERRY_TRUSTED_PUBLIC_KEYS: signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ...(options.sealThresholdBytes !== undefined ? { FERRY_SEAL_FUNCTION_NAME: 'ferry-seal', FERRY_SEAL_THRESHOLD_BYTES: String(options.sealThresholdBytes) } : {}),
    // Docker: the source Nexus lists the tags, the registries serve /v2/ on both sides.
    ...(images
      ? {
          FERRY_NEXUS_URL: images.nexus.url,
          FERRY_TARGET_URL: images.targetNexus.url,
          // The isolated Nexus names the repository differently: mapped, then its registry.
          FERRY_REPOSITORY_MAP: JSON.stringify({ 'docker-hosted': 'docker-isolated' }),
          FERRY_REGISTRIES: JSON.stringify({ 'docker-isolated': { url: images.target.url } }),
        }
      : {}),
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  deployment = {
    world,
    ...(images ? { images } : {}),
    bucket,
    queueUrl: String(QueueUrl),
    handlers: {
      webhook: (await import('../../functions/webhook.ts')).handler,
      copy: (await import('../../functions/copy.ts')).handler,
      seal: (await import('../../functions/seal.ts')).handler,
      scan: (await import('../../functions/scan.ts')).handler,
      import: (await import('../../functions/import.ts')).handler,
    },
    inbox,
    table,
  };
  return deployment;
}

export function lambdaContext(remainingMs = 900_000): Context {
  return lambdaContextOf({ name: 'ferry-flow', memoryMb: 1024, remainingMs });
}

/**
 * A Lambda Function URL in front of the webhook handler: what Nexus posts becomes the
 * APIGatewayProxyEventV2 Lambda would hand over (lowercase headers, body in base64).
 */
export async function functionUrl(handler: Deployment['handlers']['webhook']): Promise<{ url: string; server: Server; bodies: { body: Buffer; headers: Record<string, string> }[] }> {
  const bodies: { body: Buffer; headers: Record<string, string> }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
    bodies.push({ body, headers });
    const response = await handler(urlEvent(body, headers), lambdaContext());
    res.writeHead(response.statusCode ?? 200, { 'content-type': 'application/json' }).end(response.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, bodies };
}


/** Receives every message now visible on the queue, as the SQS event source would deliver them. */
export async function drain(d: Deployment): Promise<{ event: SQSEvent; messages: Message[] }> {
  const sqs = makeSqsClient(awsEndpoint);
  const messages: Message[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: d.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
    if (!out.Messages || out.Messages.length === 0) break;
    messages.push(...out.Messages);
  }
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: d.queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? 'arn:aws:sqs:us-east-1:000000000000:q';
  const event = sqsEvent(messages, arn, region);
  return { event, messages };
}

export async function deleteMessages(d: Deployment, messages: Message[]): Promise<void> {
  const sqs = makeSqsClient(awsEndpoint);
  for (const m of messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: d.queueUrl, ReceiptHandle: m.ReceiptHandle }));
}

/** The schedule's path: scan → SQS → copy → seal; then ops copy the bundle into the inbox bucket. */
export async function sealIntoInbox(d: Deployment): Promise<{ bundle: { name: string; digest: string }; key: string }> {
  await d.handlers.scan({}, lambdaContext());
  const { event } = await drain(d);
  expect((await d.handlers.copy(event, lambdaContext())).batchItemFailures).toEqual([]);
  const [bundle] = (await d.handlers.seal({}, lambdaContext())).bundles;
  if (bundle === undefined) throw new Error('seal wrote no bundle');
  const key = `bundles/${bundle.name}`;
  await makeS3Client(awsEndpoint).send(new CopyObjectCommand({ Bucket: d.inbox, Key: key, CopySource: `${d.bucket}/bundles/${bundle.name}` }));
  return { bundle, key };
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
