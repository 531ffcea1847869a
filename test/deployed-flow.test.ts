/**
 * The serverless flow end to end against the emulators (fauxqs for S3 + SQS, DynamoDB
 * Local) and two Nexus stand-ins: a signed Nexus webhook → webhook handler → SQS → copy
 * handler (fed a real SQS event) → seal handler → bundle in S3 → the real `ferry import`
 * CLI → the target Nexus holds the same bytes. Secrets Manager and KMS are the only
 * services mocked (aws-sdk-client-mock); KMS signs with a real local P-256 key.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { seedPutItemInput } from '../shared/adapters/aws/dynamo-definitions.ts';
import { createTableInput } from '../shared/adapters/aws/dynamo-export-state.ts';
import { seedDefinitions } from '../shared/config/definitions.ts';
import { createImportTableInput } from '../shared/adapters/aws/dynamo-import-state.ts';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { decodeReceipt } from '../shared/core/receipts/codec.ts';
import { SCAN_LAG_MAX_METRIC, SCAN_LAG_METRIC } from '../functions/metrics.ts';
import { tgz } from './nexus-standin/archives.ts';
import { signWebhookBody } from './nexus-standin/index.ts';
import { makeS3Client, makeSqsClient, startEmulators, type Emulators } from './support/emulators.ts';
import { content, makeWorld, runFerry, type World } from './support/world.ts';
import { makeImageWorld, type ImageWorld } from './support/image-world.ts';
import { makeImage, makeLayer } from './support/images.ts';
import { skopeoInspectRaw } from './support/skopeo.ts';
import { lambdaContext as lambdaContextOf, s3ObjectCreated, sqsEvent, urlEvent } from './support/lambda-events.ts';

const WEBHOOK_SECRET = 'deployed-flow-s3cret';
const WEBHOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-webhook';
const NEXUS_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-nexus';
const KMS_KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/ferry-signing';
const TARGET_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-target';
const SOURCE_USER = { username: 'ferry-reader', password: 'source-pa55' };
/** The target stand-in's user in test/support/world.ts. */
const TARGET_USER = { username: 'ferry-writer', password: 'target-pa55' };
const region = 'us-east-1';
// DynamoDB Local accepts access key ids of letters and digits only.
const credentials = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' };

// ───────────────────────────── emulators, KMS, Secrets Manager ─────────────────────────────

let ownEmulators: Emulators | undefined;
let awsEndpoint: string;
let dynamoEndpoint: string;

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

const secrets = mockClient(SecretsManagerClient);
const kms = mockClient(KMSClient);
/** Copy's early seal invokes the seal function through the Lambda API (mocked: no Lambda service here). */
const lambda = mockClient(LambdaClient);
let signingKey: { privateKey: KeyObject; publicKey: KeyObject };

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

interface Deployment {
  world: World;
  /** With `images`: source and target registries and the Nexus stand-ins that front them. */
  images?: ImageWorld;
  bucket: string;
  queueUrl: string;
  handlers: {
    webhook: typeof import('../functions/webhook.ts').handler;
    copy: typeof import('../functions/copy.ts').handler;
    seal: typeof import('../functions/seal.ts').handler;
    scan: typeof import('../functions/scan.ts').handler;
    import: typeof import('../functions/import.ts').handler;
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
async function deploy(options: { pageSize?: number; images?: boolean; sealThresholdBytes?: number; helm?: boolean } = {}): Promise<Deployment> {
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
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    // The SDK's own endpoint variables: the handlers have no endpoint code.
    AWS_ENDPOINT_URL_S3: awsEndpoint,
    AWS_ENDPOINT_URL_SQS: awsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    POWERTOOLS_SERVICE_NAME: 'ferry-flow',
    POWERTOOLS_METRICS_NAMESPACE: 'Ferry',
    POWERTOOLS_DEV: 'true',
    // Dev mode turns metrics off unless told otherwise; the EMF records are asserted on.
    POWERTOOLS_METRICS_DISABLED: 'false',
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
      webhook: (await import('../functions/webhook.ts')).handler,
      copy: (await import('../functions/copy.ts')).handler,
      seal: (await import('../functions/seal.ts')).handler,
      scan: (await import('../functions/scan.ts')).handler,
      import: (await import('../functions/import.ts')).handler,
    },
    inbox,
    table,
  };
  return deployment;
}

function lambdaContext(remainingMs = 900_000): Context {
  return lambdaContextOf({ name: 'ferry-flow', memoryMb: 1024, remainingMs });
}

/**
 * A Lambda Function URL in front of the webhook handler: what Nexus posts becomes the
 * APIGatewayProxyEventV2 Lambda would hand over (lowercase headers, body in base64).
 */
async function functionUrl(handler: Deployment['handlers']['webhook']): Promise<{ url: string; server: Server; bodies: { body: Buffer; headers: Record<string, string> }[] }> {
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
async function drain(d: Deployment): Promise<{ event: SQSEvent; messages: Message[] }> {
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

async function deleteMessages(d: Deployment, messages: Message[]): Promise<void> {
  const sqs = makeSqsClient(awsEndpoint);
  for (const m of messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: d.queueUrl, ReceiptHandle: m.ReceiptHandle }));
}

/** The schedule's path: scan → SQS → copy → seal; then ops copy the bundle into the inbox bucket. */
async function sealIntoInbox(d: Deployment): Promise<{ bundle: { name: string; digest: string }; key: string }> {
  await d.handlers.scan({}, lambdaContext());
  const { event } = await drain(d);
  expect((await d.handlers.copy(event, lambdaContext())).batchItemFailures).toEqual([]);
  const [bundle] = (await d.handlers.seal({}, lambdaContext())).bundles;
  if (bundle === undefined) throw new Error('seal wrote no bundle');
  const key = `bundles/${bundle.name}`;
  await makeS3Client(awsEndpoint).send(new CopyObjectCommand({ Bucket: d.inbox, Key: key, CopySource: `${d.bucket}/bundles/${bundle.name}` }));
  return { bundle, key };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the deployed flow on emulators', () => {
  it('carries a webhook-announced artifact through SQS, copy, seal and S3 to the target, byte-identical', async () => {
    // Prepare: Nexus posts its webhook to the function URL
    const d = await deploy();
    const url = await functionUrl(d.handlers.webhook);
    d.world.source.addWebhook({ repository: 'raw-a', url: url.url, secret: WEBHOOK_SECRET, events: ['component'] });
    const artifact = content('deployed-flow', 300_000);

    try {
      // Act: upload → webhook → SQS
      d.world.source.putRawAsset('raw-a', '/libs/widget-1.0.bin', artifact);
      await d.world.source.webhooksIdle();
      const { event, messages } = await drain(d);
      // The same delivery again (a duplicate): nothing new is queued.
      const again = await d.handlers.webhook(urlEvent(url.bodies[0]!.body, url.bodies[0]!.headers), lambdaContext());
      const afterDuplicate = await drain(d);
      // SQS → copy → seal
      const copied = await d.handlers.copy(event, lambdaContext());
      await deleteMessages(d, messages);
      const sealed = await d.handlers.seal({ trigger: 'test' }, lambdaContext());
      // S3 → media → the isolated side's CLI
      const bundle = sealed.bundles[0]!;
      const file = path.join(d.world.dir, bundle.name);
      const s3 = makeS3Client(awsEndpoint);
      const key = String(bundle.location).replace(`s3://${d.bucket}/`, '');
      const got = await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: key }));
      await pipeline(got.Body as Readable, createWriteStream(file));
      await writeFile(d.world.publicKeyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
      const imported = await runFerry(['import', '--config', d.world.importConfig, file], d.world.env);

      // Assess
      expect(d.world.source.webhookFailures).toBe(0);
      expect(messages).toHaveLength(1);
      expect(JSON.parse(String(messages[0]!.Body))).toMatchObject({ kind: 'raw', sourceRepository: 'raw-a', path: '/libs/widget-1.0.bin' });
      expect(again.statusCode).toBe(202);
      expect(JSON.parse(String(again.body))).toMatchObject({ duplicate: true });
      expect(afterDuplicate.messages).toHaveLength(0);
      expect(copied.batchItemFailures).toEqual([]);
      expect(sealed.bundles).toHaveLength(1);
      expect(bundle).toMatchObject({ name: 'test-source-00000001.tar', sequence: 1, entries: 1 });
      expect(bundle.location).toBe(`s3://${d.bucket}/bundles/test-source-00000001.tar`);
      expect(imported.code, imported.stderr).toBe(0);
      const arrived = d.world.target.getAsset('raw-a', '/libs/widget-1.0.bin');
      expect(arrived?.content.equals(artifact)).toBe(true);
      expect(sha256(arrived!.content)).toBe(sha256(artifact));
    } finally {
      await new Promise((resolve) => url.server.close(resolve));
    }
  });

  it('changes nothing for a forged webhook: 401, no message queued, nothing staged', async () => {
    // Prepare
    const d = await deploy();
    const { componentId } = d.world.source.putRawAsset('raw-a', '/libs/forged.bin', content('forged', 1000));
    const body = Buffer.from(
      JSON.stringify({
        timestamp: '2025-01-15T10:20:30.123+00:00',
        nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93',
        initiator: 'admin/10.0.0.5',
        repositoryName: 'raw-a',
        action: 'CREATED',
        component: { id: '1', componentId, format: 'raw', name: 'libs/forged.bin' },
      }),
    );
    const headers = {
      'content-type': 'application/json; charset=UTF-8',
      'x-nexus-webhook-id': 'rm:repository:component',
      'x-nexus-webhook-delivery': 'forged-1',
      'x-nexus-webhook-signature': signWebhookBody('a-guessed-secret', body),
    };

    // Act
    const response = await d.handlers.webhook(urlEvent(body, headers), lambdaContext());
    const queued = await drain(d);
    const sealed = await d.handlers.seal({}, lambdaContext());
    const objects = await makeS3Client(awsEndpoint).send(new ListObjectsV2Command({ Bucket: d.bucket }));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(queued.messages).toHaveLength(0);
    expect(sealed.bundles).toEqual([]);
    expect(objects.KeyCount ?? 0).toBe(0);
  });

  it('continues a scan cut short by the remaining time from its DynamoDB checkpoint', async () => {
    // Prepare: 25 artifacts = 3 pages of 10
    const d = await deploy();
    for (let i = 0; i < 25; i++) d.world.source.putRawAsset('raw-a', `/scan/a-${i}.bin`, content(`scan${i}`, 500 + i));

    // Act: the first invocation has less than a minute left, the next one plenty
    const first = await d.handlers.scan({ 'detail-type': 'Scheduled Event' }, lambdaContext(30_000));
    const second = await d.handlers.scan({ 'detail-type': 'Scheduled Event' }, lambdaContext(900_000));
    const { event } = await drain(d);

    // Assess
    expect(first.repositories).toEqual([expect.objectContaining({ repository: 'raw-a', complete: false, resumed: false, pages: 1, queued: 10, watermark: undefined })]);
    expect(second.repositories).toEqual([expect.objectContaining({ repository: 'raw-a', complete: true, resumed: true, pages: 2, queued: 15 })]);
    expect(second.repositories[0]?.watermark).toBeDefined();
    const pages = d.world.source.requests.filter((r) => r.url.startsWith('/service/rest/v1/components?repository=raw-a'));
    expect(pages).toHaveLength(3);
    expect(pages.filter((r) => !r.url.includes('continuationToken'))).toHaveLength(1);
    const paths = event.Records.map((r) => JSON.parse(r.body).path as string).sort();
    expect(paths).toEqual(Array.from({ length: 25 }, (_, i) => `/scan/a-${i}.bin`).sort());
    // The metric the ScanLag alarm watches (infra/), per repository, only once the scan completed.
    const lag = emfRecords().filter((r) => r._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === SCAN_LAG_METRIC));
    expect(lag).toHaveLength(1);
    expect(lag[0]).toMatchObject({ repository: 'raw-a', service: 'ferry-flow' });
    expect(lag[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([expect.arrayContaining(['service', 'repository'])]);
    // And the worst of the run, without a repository: the alarm for repositories defined after the deploy.
    const worst = emfRecords().filter((r) => r._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === SCAN_LAG_MAX_METRIC));
    expect(worst).toHaveLength(1);
    expect(worst[0]![SCAN_LAG_MAX_METRIC]).toBe(lag[0]![SCAN_LAG_METRIC]);
    expect(worst[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);
  });

  it('starts the seal function early, asynchronously, once the pending bytes pass the threshold', async () => {
    // Prepare: a threshold of 100 kB; the first artifact stays under it, the second passes it
    const d = await deploy({ sealThresholdBytes: 100_000 });
    const copyNew = async () => {
      await d.handlers.scan({}, lambdaContext());
      const { event, messages } = await drain(d);
      const result = await d.handlers.copy(event, lambdaContext());
      await deleteMessages(d, messages);
      return result;
    };
    d.world.source.putRawAsset('raw-a', '/big/one.bin', content('early-1', 60_000));

    // Act
    const first = await copyNew();
    const invokesAfterFirst = lambda.commandCalls(InvokeCommand).length;
    d.world.source.putRawAsset('raw-a', '/big/two.bin', content('early-2', 60_000));
    const second = await copyNew();

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(invokesAfterFirst).toBe(0);
    const invokes = lambda.commandCalls(InvokeCommand);
    expect(invokes).toHaveLength(1);
    expect(invokes[0]!.args[0].input).toMatchObject({ FunctionName: 'ferry-seal', InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(invokes[0]!.args[0].input.Payload as Uint8Array).toString())).toEqual({ trigger: 'copy', pendingBytes: 120_000 });
  });

  it('imports a bundle dropped in the inbox bucket with the import function, writes a signed receipt, and ignores it the second time', async () => {
    // Prepare: scan → copy → seal a bundle, then ops put it in the isolated side's inbox
    const d = await deploy();
    const artifact = content('import-fn', 70_000);
    d.world.source.putRawAsset('raw-a', '/tools/tool-2.0.tgz', artifact);
    const { bundle, key } = await sealIntoInbox(d);
    const s3 = makeS3Client(awsEndpoint);
    const created = s3ObjectCreated(d.inbox, key);

    // Act
    const first = await d.handlers.import(created, lambdaContext());
    const second = await d.handlers.import(created, lambdaContext());

    // Assess
    expect(first.bundles).toEqual([{ key, status: 'imported', sequence: 1, receipt: 'receipts/test-source-00000001.receipt.json' }]);
    expect(second.bundles).toEqual([{ key, status: 'already-imported', sequence: 1 }]);
    expect(d.world.target.getAsset('raw-a', '/tools/tool-2.0.tgz')?.content.equals(artifact)).toBe(true);
    expect(d.world.target.uploadCount('raw-a', '/tools/tool-2.0.tgz')).toBe(1);
    const receiptObject = await s3.send(new GetObjectCommand({ Bucket: d.inbox, Key: 'receipts/test-source-00000001.receipt.json' }));
    const receipt = decodeReceipt(await receiptObject.Body!.transformToString(), 'receipt', [signingKey.publicKey]);
    expect(receipt).toMatchObject({ sourceId: 'test-source', bundle: { sequence: 1, digest: bundle.digest }, summary: { imported: 1, present: 0 } });
    expect(receipt.blobsHeld.map((b) => b.digest)).toEqual([`sha256:${sha256(artifact)}`]);
  });
});

describe('the deployed flow with helm charts', () => {
  it('turns a helm asset webhook into a copy task, seals it, and the import function loads the chart; index.yaml lists it', async () => {
    // Prepare: Nexus posts asset events of helm-hosted to the function URL
    const d = await deploy({ helm: true });
    const url = await functionUrl(d.handlers.webhook);
    d.world.source.addWebhook({ repository: 'helm-hosted', url: url.url, secret: WEBHOOK_SECRET, events: ['asset'] });
    const archive = await tgz([{ name: 'mychart/Chart.yaml', content: 'apiVersion: v2\nname: mychart\nversion: 1.2.3\n' }]);

    try {
      // Act: upload → asset webhook → SQS → copy → seal → inbox → import function
      await d.world.source.seedUpload('helm-hosted', { files: [{ field: 'helm.asset', filename: 'mychart-1.2.3.tgz', content: archive }] });
      await d.world.source.webhooksIdle();
      const { event, messages } = await drain(d);
      const copied = await d.handlers.copy(event, lambdaContext());
      await deleteMessages(d, messages);
      const [bundle] = (await d.handlers.seal({}, lambdaContext())).bundles;
      const key = `bundles/${bundle!.name}`;
      await makeS3Client(awsEndpoint).send(new CopyObjectCommand({ Bucket: d.inbox, Key: key, CopySource: `${d.bucket}/${key}` }));
      const imported = await d.handlers.import(s3ObjectCreated(d.inbox, key), lambdaContext());

      // Assess
      expect(messages.map((m) => JSON.parse(String(m.Body)))).toEqual([
        expect.objectContaining({ kind: 'helm', sourceRepository: 'helm-hosted', path: '/mychart-1.2.3.tgz', component: { group: null, name: 'mychart', version: '1.2.3' } }),
      ]);
      expect(copied.batchItemFailures).toEqual([]);
      expect(imported.bundles).toEqual([expect.objectContaining({ key, status: 'imported', sequence: 1 })]);
      expect(d.world.target.getAsset('helm-hosted', '/mychart-1.2.3.tgz')?.content.equals(archive)).toBe(true);
      const index = await fetch(`${d.world.target.url}/repository/helm-hosted/index.yaml`, {
        headers: { authorization: `Basic ${Buffer.from(`${TARGET_USER.username}:${TARGET_USER.password}`).toString('base64')}` },
      });
      expect(await index.text()).toContain(`digest: ${sha256(archive)}`);
    } finally {
      await new Promise((resolve) => url.server.close(resolve));
    }
  });
});

describe('the deployed flow with docker images', () => {
  it('carries two tags sharing layers through scan, copy (SQS), seal and the import function; the target manifests are bit-identical', async () => {
    // Prepare: two tags of one repository sharing a base layer, listed by the source Nexus
    const d = await deploy({ images: true });
    const base = await makeLayer({ 'base/lib.so': Buffer.alloc(120_000, 7) });
    const one = makeImage({ layers: [base, await makeLayer({ 'app/one': 'one\n' })] });
    const two = makeImage({ layers: [base, await makeLayer({ 'app/two': 'two\n' })] });
    await d.images!.publish('team/app', '1.0.0', one);
    await d.images!.publish('team/app', '2.0.0', two);

    // Act: the schedule scans, SQS feeds copy, seal writes the bundle, ops drop it in the inbox
    const scanned = await d.handlers.scan({ 'detail-type': 'Scheduled Event' }, lambdaContext());
    const { event } = await drain(d);
    const copied = await d.handlers.copy(event, lambdaContext());
    const [bundle] = (await d.handlers.seal({}, lambdaContext())).bundles;
    const s3 = makeS3Client(awsEndpoint);
    const key = `bundles/${bundle!.name}`;
    await s3.send(new CopyObjectCommand({ Bucket: d.inbox, Key: key, CopySource: `${d.bucket}/bundles/${bundle!.name}` }));
    const imported = await d.handlers.import(s3ObjectCreated(d.inbox, key), lambdaContext());

    // Assess
    expect(scanned.repositories).toEqual([expect.objectContaining({ repository: 'docker-hosted', complete: true, queued: 2 })]);
    expect(event.Records.map((r) => JSON.parse(r.body)).map((t) => `${t.kind} ${t.name}:${t.tag}`).sort()).toEqual(['image team/app:1.0.0', 'image team/app:2.0.0']);
    expect(copied.batchItemFailures).toEqual([]);
    expect(bundle).toMatchObject({ sequence: 1, entries: 2 });
    expect(imported.bundles).toEqual([{ key, status: 'imported', sequence: 1, receipt: 'receipts/test-source-00000001.receipt.json' }]);
    const host = d.images!.target.host;
    expect((await skopeoInspectRaw(`${host}/team/app:1.0.0`)).equals(one.manifest.bytes)).toBe(true);
    expect((await skopeoInspectRaw(`${host}/team/app:2.0.0`)).equals(two.manifest.bytes)).toBe(true);
  });
});

interface EmfRecord {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [field: string]: unknown;
}

/** The EMF records the functions printed (Powertools Metrics writes them to console.log in dev mode). */
function emfRecords(): EmfRecord[] {
  const printed = vi.mocked(console.log).mock.calls.map((args) => String(args[0]));
  return printed.flatMap((line) => {
    try {
      const record = JSON.parse(line) as Partial<EmfRecord>;
      return record._aws?.CloudWatchMetrics ? [record as EmfRecord] : [];
    } catch {
      return [];
    }
  });
}

describe('receipts carried back to the serverless export side', () => {
  it('ferry receipt apply --table records in DynamoDB what the far side holds, checking the receipt signature', async () => {
    // Prepare: a bundle through the functions, imported by the import function, its receipt downloaded
    const d = await deploy();
    const artifact = content('receipt-back', 40_000);
    d.world.source.putRawAsset('raw-a', '/r/held.bin', artifact);
    const { key } = await sealIntoInbox(d);
    const s3 = makeS3Client(awsEndpoint);
    const [imported] = (await d.handlers.import(s3ObjectCreated(d.inbox, key), lambdaContext())).bundles;
    const receiptFile = path.join(d.world.dir, 'held.receipt.json');
    await writeFile(receiptFile, await (await s3.send(new GetObjectCommand({ Bucket: d.inbox, Key: imported!.receipt! }))).Body!.transformToString());
    const keyFile = path.join(d.world.dir, 'import-kms.pub.pem');
    await writeFile(keyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const wrongKeyFile = path.join(d.world.dir, 'other.pub.pem');
    await writeFile(wrongKeyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const env = { ...d.world.env, AWS_REGION: region, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint };
    const digest = `sha256:${sha256(artifact)}` as const;
    // Another chain on the same table (its own source id) has never shipped the blob.
    const other = new DynamoExportState({ client: DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials })), table: d.table, sourceId: 'other-source' });
    const before = await other.shippedIn(digest);

    // Act
    const refused = await runFerry(['receipt', 'apply', '--table', d.table, '--source-id', 'other-source', '--public-key', wrongKeyFile, receiptFile], env);
    const afterRefusal = await other.shippedIn(digest);
    const applied = await runFerry(['receipt', 'apply', '--table', d.table, '--source-id', 'other-source', '--public-key', keyFile, receiptFile], env);

    // Assess
    expect(before).toBeUndefined();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/held\.receipt\.json.*signature/i);
    expect(afterRefusal).toBeUndefined();
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('held.receipt.json: bundle 1 imported at');
    expect(applied.stdout).toContain('the far side holds 1 blobs (1 not known here before)');
    expect(await other.shippedIn(digest)).toBe(0);
  });

  it('heals a bundle refused for a blob the far side lost: resend request in the inbox, receipt apply --table, the next bundle imported together with it', async () => {
    // Prepare: bundle 1 imported by the function; the far side then loses its held copy of X
    const d = await deploy();
    const x = content('lost-and-found', 30_000);
    d.world.source.putRawAsset('raw-a', '/a/x.bin', x);
    const s3 = makeS3Client(awsEndpoint);
    const first = await sealIntoInbox(d);
    expect((await d.handlers.import(s3ObjectCreated(d.inbox, first.key), lambdaContext())).bundles[0]?.status).toBe('imported');
    const heldBucket = process.env.FERRY_HELD_BUCKET!;
    await s3.send(new DeleteObjectCommand({ Bucket: heldBucket, Key: `blobs/sha256/${sha256(x)}` }));
    d.world.source.putRawAsset('raw-a', '/b/x-again.bin', x);
    const second = await sealIntoInbox(d);

    // Act: refused (resend request written), applied on the export side, re-sent, imported together
    const refused = await d.handlers.import(s3ObjectCreated(d.inbox, second.key), lambdaContext()).catch((error: unknown) => error as Error);
    const requestFile = path.join(d.world.dir, 'resend.json');
    await writeFile(requestFile, await (await s3.send(new GetObjectCommand({ Bucket: d.inbox, Key: 'receipts/test-source-00000002.resend-request.json' }))).Body!.transformToString());
    const keyFile = path.join(d.world.dir, 'import-kms.pub.pem');
    await writeFile(keyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const env = { ...d.world.env, AWS_REGION: region, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint };
    const applied = await runFerry(['receipt', 'apply', '--table', d.table, '--source-id', 'test-source', '--public-key', keyFile, requestFile], env);
    const [third] = (await d.handlers.seal({}, lambdaContext())).bundles;
    const thirdKey = `bundles/${third!.name}`;
    await s3.send(new CopyObjectCommand({ Bucket: d.inbox, Key: thirdKey, CopySource: `${d.bucket}/bundles/${third!.name}` }));
    const healed = await d.handlers.import(s3ObjectCreated(d.inbox, thirdKey), lambdaContext());

    // Assess
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain(`blob sha256:${sha256(x)} is neither held here nor on the target`);
    expect(applied.code, applied.stderr).toBe(0);
    expect(third).toMatchObject({ sequence: 3, entries: 0 });
    expect(healed.bundles.map((b) => [b.key, b.status])).toEqual([
      [second.key, 'imported'],
      [thirdKey, 'imported'],
    ]);
    expect(d.world.target.getAsset('raw-a', '/b/x-again.bin')?.content.equals(x)).toBe(true);
  });

  it('imports a bundle whose predecessor was lost for good only when ops invoke the function asking for it (allowGap), with its receipt', async () => {
    // Prepare: bundle 1 imported, bundle 2 sealed but never carried, bundle 3 in the inbox
    const d = await deploy();
    d.world.source.putRawAsset('raw-a', '/gap/one.bin', content('gap-one', 2000));
    const first = await sealIntoInbox(d);
    expect((await d.handlers.import(s3ObjectCreated(d.inbox, first.key), lambdaContext())).bundles[0]?.status).toBe('imported');
    d.world.source.putRawAsset('raw-a', '/gap/two.bin', content('gap-two', 2000));
    const second = await sealIntoInbox(d);
    await makeS3Client(awsEndpoint).send(new DeleteObjectCommand({ Bucket: d.inbox, Key: second.key }));
    d.world.source.putRawAsset('raw-a', '/gap/three.bin', content('gap-three', 2000));
    const third = await sealIntoInbox(d);

    // Act
    const onArrival = await d.handlers.import(s3ObjectCreated(d.inbox, third.key), lambdaContext()).catch((error: unknown) => error as Error);
    const badAsk = await d.handlers.import({ bucket: d.inbox, bundles: [third.key], allowGap: 'yes' }, lambdaContext()).catch((error: unknown) => error as Error);
    const asked = await d.handlers.import({ bucket: d.inbox, bundles: [third.key], allowGap: true }, lambdaContext());

    // Assess
    expect(onArrival).toMatchObject({ name: 'SequenceError' });
    expect(badAsk).toMatchObject({ name: 'ImportEventError', message: expect.stringContaining('allowGap') });
    expect(asked.bundles).toEqual([{ key: third.key, status: 'imported', sequence: 3, receipt: 'receipts/test-source-00000003.receipt.json' }]);
    expect(d.world.target.getAsset('raw-a', '/gap/three.bin')?.content).toEqual(content('gap-three', 2000));
    expect(d.world.target.getAsset('raw-a', '/gap/two.bin')).toBeUndefined();
  });
});

