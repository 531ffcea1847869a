/**
 * The sync definitions API through its real handler (functions/definitions.ts), fed the
 * events an AWS_IAM Function URL hands over, against DynamoDB Local; and a change taking
 * effect at the next scan and webhook of the real handlers, with S3 and SQS on fauxqs and
 * a Nexus stand-in. Secrets Manager and KMS are mocked (no emulator), as in deployed-flow.test.ts.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { seedPutItemInput } from '../shared/adapters/aws/dynamo-definitions.ts';
import { DynamoExportState, createTableInput } from '../shared/adapters/aws/dynamo-export-state.ts';
import { seedDefinitions } from '../shared/config/definitions.ts';
import { signWebhookBody } from './nexus-standin/index.ts';
import { makeDynamoClient, makeS3Client, makeSqsClient } from './support/emulators.ts';
import { iamUrlEvent, lambdaContext, sqsEvent, urlEvent } from './support/lambda-events.ts';
import { emulatorEnv } from './support/lambda-env.ts';
import { content, makeWorld, type World } from './support/world.ts';

const awsEndpoint = inject('awsEndpoint');
const dynamoEndpoint = inject('dynamoEndpoint');
const region = 'us-east-1';
const credentials = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' };
const WEBHOOK_SECRET = 'definitions-s3cret';
const WEBHOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-webhook';
const SECRET_PREFIX_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/test-source/';
const DEPLOYED_REGISTRY_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:corp/harbor-robot-AbCdEf';
const NEXUS_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-nexus';
const ALICE = 'arn:aws:sts::123456789012:assumed-role/ferry-operators/alice';
const BOB = 'arn:aws:iam::123456789012:user/bob';

const KMS_KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/ferry-signing';

const secrets = mockClient(SecretsManagerClient);
const kms = mockClient(KMSClient);

interface Deployment {
  table: string;
  queueUrl: string;
  world: World;
  definitions: typeof import('../functions/definitions.ts').handler;
  scan: typeof import('../functions/scan.ts').handler;
  webhook: typeof import('../functions/webhook.ts').handler;
  copy: typeof import('../functions/copy.ts').handler;
  seal: typeof import('../functions/seal.ts').handler;
}

let deployment: Deployment | undefined;

beforeEach(() => {
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: WEBHOOK_SECRET_ARN }).resolves({ SecretString: WEBHOOK_SECRET });
  secrets.on(GetSecretValueCommand, { SecretId: NEXUS_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'ferry-reader', password: 'source-pa55' }) });
  // KMS as the signer sees it, signing with a local P-256 key.
  kms.reset();
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  kms.on(GetPublicKeyCommand).resolves({ KeyId: KMS_KEY_ID, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'], PublicKey: new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' })) });
  kms.on(SignCommand).callsFake((input: { Message: Uint8Array }) => ({ KeyId: KMS_KEY_ID, SigningAlgorithm: 'ECDSA_SHA_256', Signature: new Uint8Array(sign('sha256', input.Message, { key: key.privateKey, dsaEncoding: 'der' })) }));
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) vi.spyOn(console, method).mockImplementation(() => undefined);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await deployment?.world.close();
  deployment = undefined;
});

/** A bucket, queue and tables in the emulators, definitions seeded with raw-a, the functions loaded cold. */
async function deploy(): Promise<Deployment> {
  const world = await makeWorld({ repositories: ['raw-a', 'raw-b'] });
  const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const table = `ferry-defs-${suffix}`;
  const idempotency = `ferry-defs-idem-${suffix}`;
  const dynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials });
  await dynamo.send(new CreateTableCommand(createTableInput(table)));
  await dynamo.send(new CreateTableCommand({ TableName: idempotency, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }));
  // What the stack's seed writes at the first deploy.
  await dynamo.send(new PutItemCommand(seedPutItemInput(table, seedDefinitions('test-source', [{ name: 'raw-a', format: 'raw' }], 'arn:aws:cloudformation:us-east-1:123456789012:stack/test'))));
  dynamo.destroy();
  await makeS3Client(awsEndpoint).send(new CreateBucketCommand({ Bucket: `ferry-defs-${suffix}` }));
  const created = await makeSqsClient(awsEndpoint).send(new CreateQueueCommand({ QueueName: `ferry-defs-${suffix}`, Attributes: { VisibilityTimeout: '60' } }));
  const queueUrl = String(created.QueueUrl).replace(/^https?:\/\/[^/]+/, awsEndpoint);
  const env: Record<string, string> = {
    ...emulatorEnv('ferry-definitions-test', { aws: awsEndpoint, dynamo: dynamoEndpoint }, credentials),
    FERRY_SOURCE_ID: 'test-source',
    FERRY_TABLE: table,
    FERRY_BUCKET: `ferry-defs-${suffix}`,
    FERRY_QUEUE_URL: queueUrl,
    FERRY_NEXUS_URL: world.source.url,
    FERRY_NEXUS_SECRET_ARN: NEXUS_SECRET_ARN,
    FERRY_WEBHOOK_SECRET_ARN: WEBHOOK_SECRET_ARN,
    FERRY_IDEMPOTENCY_TABLE: idempotency,
    FERRY_KMS_KEY_ID: KMS_KEY_ID,
    FERRY_REGISTRY_SECRET_ARN_PREFIX: SECRET_PREFIX_ARN,
    FERRY_REGISTRY_SECRET_ARNS: DEPLOYED_REGISTRY_SECRET_ARN,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  deployment = {
    table,
    queueUrl,
    world,
    definitions: (await import('../functions/definitions.ts')).handler,
    scan: (await import('../functions/scan.ts')).handler,
    webhook: (await import('../functions/webhook.ts')).handler,
    copy: (await import('../functions/copy.ts')).handler,
    seal: (await import('../functions/seal.ts')).handler,
  };
  return deployment;
}

type Call = (method: string, path: string, options?: Parameters<typeof iamUrlEvent>[2]) => Promise<{ status: number; body: Record<string, unknown>; etag: string | undefined }>;
const api =
  (d: Deployment): Call =>
  async (method, path, options) => {
    const response = (await d.definitions(iamUrlEvent(method, path, options), lambdaContext())) as APIGatewayProxyStructuredResultV2;
    return { status: response.statusCode ?? 0, body: JSON.parse(String(response.body)) as Record<string, unknown>, etag: response.headers?.etag as string | undefined };
  };

/** Receives (and deletes) every message now on the queue: the repositories and paths of their tasks, and the SQS event for copy. */
async function drain(d: Deployment) {
  const sqs = makeSqsClient(awsEndpoint);
  const messages: Message[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: d.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
  }
  for (const m of messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: d.queueUrl, ReceiptHandle: m.ReceiptHandle }));
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: d.queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? 'arn:aws:sqs:us-east-1:000000000000:q';
  const tasks = messages.map((m) => JSON.parse(String(m.Body)) as { sourceRepository: string; path: string });
  return { tasks: tasks.map((t) => `${t.sourceRepository}${t.path}`).sort(), event: sqsEvent(messages, arn, region) };
}

/** A signed Nexus component webhook for `repository`. */
function componentEvent(repository: string, componentId: string, name: string, delivery: string) {
  const body = Buffer.from(
    JSON.stringify({
      timestamp: '2025-01-15T10:20:30.123+00:00',
      nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93',
      initiator: 'admin/10.0.0.5',
      repositoryName: repository,
      action: 'CREATED',
      component: { id: '1', componentId, format: 'raw', name },
    }),
  );
  return urlEvent(body, {
    'content-type': 'application/json; charset=UTF-8',
    'x-nexus-webhook-id': 'rm:repository:component',
    'x-nexus-webhook-delivery': delivery,
    'x-nexus-webhook-signature': signWebhookBody(WEBHOOK_SECRET, body),
  });
}

describe('the definitions Function URL', () => {
  it('lists, gets, creates, replaces and deletes over IAM, recording the caller ARN and when, with the version as ETag', async () => {
    // Prepare
    const call = api(await deploy());

    // Act
    const listed = await call('GET', '/repositories');
    const created = await call('PUT', '/repositories/raw-b', { body: JSON.stringify({ format: 'raw' }) });
    const got = await call('GET', '/repositories/raw-b');
    const replaced = await call('PUT', '/repositories/raw-b', { body: JSON.stringify({ name: 'raw-b', format: 'raw', target: 'raw-b-mirror' }), headers: { 'if-match': '"1"' }, callerArn: BOB });
    const stale = await call('PUT', '/repositories/raw-b', { body: JSON.stringify({ format: 'raw' }), headers: { 'if-match': '"1"' } });
    const createOnly = await call('PUT', '/repositories/raw-b', { body: JSON.stringify({ format: 'raw' }), headers: { 'if-none-match': '*' } });
    const deleted = await call('DELETE', '/repositories/raw-b', { headers: { 'if-match': 'W/"2"' } });
    const gone = await call('GET', '/repositories/raw-b');
    const withRemoved = await call('GET', '/repositories', { query: { removed: 'true' } });
    const history = await call('GET', '/repositories/raw-b/history');
    const all = await call('GET', '/history');

    // Assess
    expect(listed).toMatchObject({ status: 200, body: { sourceId: 'test-source', repositories: [{ name: 'raw-a', version: 1, via: 'seed' }] } });
    expect(created).toMatchObject({ status: 201, etag: '"1"', body: { name: 'raw-b', version: 1, updatedBy: ALICE, via: 'api', definition: { name: 'raw-b', format: 'raw' } } });
    expect(Date.parse(String(created.body.updatedAt))).toBeGreaterThan(Date.now() - 60_000);
    expect(got).toMatchObject({ status: 200, etag: '"1"', body: { name: 'raw-b', version: 1 } });
    expect(replaced).toMatchObject({ status: 200, etag: '"2"', body: { version: 2, updatedBy: BOB, definition: { target: 'raw-b-mirror' } } });
    expect(stale).toMatchObject({ status: 412, body: { currentVersion: 2 } });
    expect(createOnly).toMatchObject({ status: 412, body: { currentVersion: 2 } });
    expect(deleted).toMatchObject({ status: 200, etag: '"3"', body: { name: 'raw-b', version: 3, removed: { by: ALICE, via: 'api' } } });
    expect(gone).toMatchObject({ status: 404, body: { message: 'no repository raw-b is defined' } });
    expect((withRemoved.body.repositories as { name: string }[]).map((r) => r.name)).toEqual(['raw-a', 'raw-b']);
    expect((history.body.changes as { action: string; by: string; version: number }[]).map((c) => [c.action, c.version, c.by])).toEqual([
      ['create', 1, ALICE],
      ['update', 2, BOB],
      ['delete', 3, ALICE],
    ]);
    expect(all.body.changes).toEqual(history.body.changes);
  });

  it('refuses bad requests with the field, size or reason named, and changes nothing', async () => {
    // Prepare
    const d = await deploy();
    const call = api(d);

    // Act
    const invalid = await call('PUT', '/repositories/docker-b', { body: JSON.stringify({ format: 'docker', registry: { url: 'https://user:pw@r.example' }, tags: { semver: 'not a range' } }) });
    const mismatch = await call('PUT', '/repositories/raw-c', { body: JSON.stringify({ name: 'raw-b', format: 'raw' }) });
    const notJson = await call('PUT', '/repositories/raw-c', { body: 'format: raw' });
    const tooBig = await call('PUT', '/repositories/raw-c', { body: JSON.stringify({ name: 'raw-c', format: 'raw', pad: 'x'.repeat(70_000) }) });
    const badIfMatch = await call('DELETE', '/repositories/raw-a', { headers: { 'if-match': 'yesterday' } });
    const anonymous = await call('GET', '/repositories', { callerArn: undefined });
    const wrongMethod = await call('POST', '/repositories');
    const unknown = await call('GET', '/watermarks');
    const badName = await call('GET', '/repositories/_hidden');
    const after = await call('GET', '/history');

    // Assess
    expect(invalid).toMatchObject({ status: 400, body: { message: 'invalid repository definition' } });
    expect(invalid.body.problems).toEqual([expect.stringMatching(/^registry\.url: /), expect.stringMatching(/^tags\.semver: /)]);
    expect(mismatch).toMatchObject({ status: 400, body: { problems: ['name: "raw-b" does not match the repository the request names ("raw-c")'] } });
    expect(notJson).toMatchObject({ status: 400, body: { message: 'body: expected a repository definition as JSON' } });
    expect(tooBig.status).toBe(413);
    expect(badIfMatch).toMatchObject({ status: 400, body: { message: 'If-Match: expected the ETag of a version, such as "3"' } });
    expect(anonymous.status).toBe(403);
    expect(wrongMethod.status).toBe(405);
    expect(unknown.status).toBe(404);
    expect(badName.status).toBe(400);
    expect(after).toMatchObject({ status: 200, body: { changes: [] } });
  });
});

describe('registry credentials of a docker definition', () => {
  it('takes a secret under the deploy\'s prefix or one the deploy named, and refuses any other, naming the prefix', async () => {
    // Prepare
    const call = api(await deploy());
    const docker = (secretArn: string) => JSON.stringify({ format: 'docker', registry: { url: 'https://registry.example', secretArn } });

    // Act
    const underPrefix = await call('PUT', '/repositories/docker-p', { body: docker(`${SECRET_PREFIX_ARN}docker-p-AbCdEf`) });
    const deployed = await call('PUT', '/repositories/docker-d', { body: docker(DEPLOYED_REGISTRY_SECRET_ARN) });
    const elsewhere = await call('PUT', '/repositories/docker-x', { body: docker('arn:aws:secretsmanager:us-east-1:123456789012:secret:team/registry-AbCdEf') });
    const listed = await call('GET', '/repositories');

    // Assess
    expect(underPrefix.status).toBe(201);
    expect(deployed.status).toBe(201);
    expect(elsewhere).toMatchObject({ status: 400 });
    expect(elsewhere.body.message).toMatch(/^registry\.secretArn: the functions can read only secrets named ferry\/test-source\/… in this account and region, or those the deploy named/);
    expect((listed.body.repositories as { name: string }[]).map((r) => r.name)).not.toContain('docker-x');
  });
});

describe('a definitions change at the next scan and webhook', () => {
  it('carries a repository from the first scan and webhook after it is put; after it is deleted queues nothing new for it and still seals what it staged', async () => {
    // Prepare: raw-a is seeded; raw-b exists in Nexus but is not carried yet
    const d = await deploy();
    const call = api(d);
    d.world.source.putRawAsset('raw-a', '/a/one.bin', content('a-one', 1000));
    d.world.source.putRawAsset('raw-b', '/b/one.bin', content('b-one', 1000));
    const early = d.world.source.putRawAsset('raw-b', '/b/early.bin', content('b-early', 1000));

    // Act: before, after the put, after the delete (each batch of tasks copied as SQS would deliver it)
    const copyAll = async (drained: Awaited<ReturnType<typeof drain>>) => expect((await d.copy(drained.event, lambdaContext())).batchItemFailures).toEqual([]);
    await d.scan({}, lambdaContext());
    const before = await drain(d);
    await copyAll(before);
    const ignoredEarly = await d.webhook(componentEvent('raw-b', early.componentId, 'b/early.bin', 'delivery-early'), lambdaContext());
    const afterIgnored = await drain(d);
    await call('PUT', '/repositories/raw-b', { body: JSON.stringify({ format: 'raw' }) });
    await d.scan({}, lambdaContext());
    const afterPut = await drain(d);
    await copyAll(afterPut);
    const hooked = d.world.source.putRawAsset('raw-b', '/b/hooked.bin', content('b-hooked', 1000));
    const accepted = await d.webhook(componentEvent('raw-b', hooked.componentId, 'b/hooked.bin', 'delivery-put'), lambdaContext());
    const fromWebhook = await drain(d);
    await call('DELETE', '/repositories/raw-b');
    // A task queued before the removal still finishes.
    await copyAll(fromWebhook);
    const late = d.world.source.putRawAsset('raw-b', '/b/late.bin', content('b-late', 1000));
    const refused = await d.webhook(componentEvent('raw-b', late.componentId, 'b/late.bin', 'delivery-deleted'), lambdaContext());
    const scanned = await d.scan({}, lambdaContext());
    const afterDelete = await drain(d);
    const state = new DynamoExportState({ client: makeDynamoClient(dynamoEndpoint), table: d.table, sourceId: 'test-source' });
    const pending = (await state.listPendingEntries()).map((e) => `${e.sourceRepository}${'path' in e ? e.path : ''}`).sort();
    const sealed = await d.seal({}, lambdaContext());
    const pendingAfterSeal = await state.listPendingEntries();

    // Assess
    expect(before.tasks).toEqual(['raw-a/a/one.bin']);
    expect(ignoredEarly.statusCode).toBe(202);
    expect(JSON.parse(String(ignoredEarly.body))).toMatchObject({ queued: 0 });
    expect(afterIgnored.tasks).toEqual([]);
    expect(afterPut.tasks).toEqual(['raw-b/b/early.bin', 'raw-b/b/one.bin']);
    expect(JSON.parse(String(accepted.body))).toMatchObject({ queued: 1 });
    expect(fromWebhook.tasks).toEqual(['raw-b/b/hooked.bin']);
    expect(JSON.parse(String(refused.body))).toMatchObject({ queued: 0 });
    expect(scanned.repositories.map((r) => r.repository)).toEqual(['raw-a']);
    expect(afterDelete.tasks).toEqual([]);
    // What raw-b staged before its removal stays pending, and seal takes it like any other.
    expect(pending).toEqual(['raw-a/a/one.bin', 'raw-b/b/early.bin', 'raw-b/b/hooked.bin', 'raw-b/b/one.bin']);
    expect(sealed.bundles).toEqual([expect.objectContaining({ sequence: 1, entries: 4 })]);
    expect(pendingAfterSeal).toEqual([]);
  });
});
