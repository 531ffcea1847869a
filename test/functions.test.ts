/**
 * Lambda handlers, with aws-sdk-client-mock for the paths the emulators cannot produce:
 * idempotency store conflicts, SQS refusing a send, storage that does not fit, a bad
 * environment. Nexus is a real stand-in on 127.0.0.1. Each test loads the handler module
 * afresh, as a cold start would, with the environment it needs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { definitionsItem } from '../shared/adapters/aws/dynamo-definitions.ts';
import { seedDefinitions } from '../shared/config/definitions.ts';
import { startNexusStandin, signWebhookBody, type NexusStandin } from './nexus-standin/index.ts';
import { lambdaContext as lambdaContextOf, s3ObjectCreated, urlEvent } from './support/lambda-events.ts';

const WEBHOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-webhook';
const NEXUS_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-nexus';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ferry-tasks';
const SECRET = 's3cret-for-functions';
const NEXUS_USER = { username: 'ferry-reader', password: 'reader-pa55word' };

const secrets = mockClient(SecretsManagerClient);
const dynamo = mockClient(DynamoDBClient);
const documents = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);

let nexus: NexusStandin;
let componentId: string;
let assetId: string;
let logs: MockInstance[];

beforeAll(async () => {
  nexus = await startNexusStandin({ repositories: [{ name: 'raw-a', format: 'raw', type: 'hosted' }], users: [NEXUS_USER] });
  ({ componentId, assetId } = nexus.putRawAsset('raw-a', '/libs/widget-1.0.bin', Buffer.alloc(2048, 7)));
});
afterAll(async () => nexus.close());

beforeEach(() => {
  vi.resetModules();
  for (const mock of [secrets, dynamo, documents, sqs, s3]) mock.reset();
  secrets.on(GetSecretValueCommand, { SecretId: WEBHOOK_SECRET_ARN }).resolves({ SecretString: SECRET });
  secrets.on(GetSecretValueCommand, { SecretId: NEXUS_SECRET_ARN }).resolves({ SecretString: JSON.stringify(NEXUS_USER) });
  dynamo.on(PutItemCommand).resolves({});
  dynamo.on(UpdateItemCommand).resolves({});
  dynamo.on(DeleteItemCommand).resolves({});
  documents.on(GetCommand).resolves({});
  defineRepositories([{ name: 'raw-a', format: 'raw' }]);
  documents.on(QueryCommand).resolves({ Items: [] });
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
    Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: '' })),
    Failed: [],
  }));
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_SERVICE_NAME: 'ferry-test',
    POWERTOOLS_METRICS_NAMESPACE: 'Ferry',
    POWERTOOLS_DEV: 'true',
    FERRY_SOURCE_ID: 'test-source',
    FERRY_TABLE: 'ferry-state',
    FERRY_BUCKET: 'ferry-staging',
    FERRY_QUEUE_URL: QUEUE_URL,
    FERRY_NEXUS_URL: nexus.url,
    FERRY_NEXUS_SECRET_ARN: NEXUS_SECRET_ARN,
    FERRY_WEBHOOK_SECRET_ARN: WEBHOOK_SECRET_ARN,
    FERRY_IDEMPOTENCY_TABLE: 'ferry-idempotency',
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  // Powertools in dev mode writes through the global console: capture it, keep the output quiet.
  logs = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) => vi.spyOn(console, method).mockImplementation(() => undefined));
});

afterEach(() => {
  nexus?.clearFaults();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** The sync definitions the functions read from the state table (as the stack's seed writes them). */
function defineRepositories(repositories: unknown[]): void {
  const Item = definitionsItem(seedDefinitions('test-source', [], 'test'));
  documents.on(GetCommand, { Key: { pk: 'DEFINITIONS', sk: 'SOURCE#test-source' } }).resolves({ Item: { ...Item, repositories: repositories.map((definition) => ({ name: (definition as { name: string }).name, definition, version: 1, updatedBy: 'test', via: 'seed' })) } });
}

const logged = () => logs.flatMap((spy) => spy.mock.calls.map((call) => call.map(String).join(' '))).join('\n');

function lambdaContext(remainingMs = 300_000): Context {
  return lambdaContextOf({ name: 'ferry-test', memoryMb: 512, remainingMs, requestId: 'request-1' });
}


function componentBody(overrides: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      timestamp: '2025-01-15T10:20:30.123+00:00',
      nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93',
      initiator: 'admin/10.0.0.5',
      repositoryName: 'raw-a',
      action: 'CREATED',
      component: { id: '1', componentId, format: 'raw', name: 'libs/widget-1.0.bin' },
      ...overrides,
    }),
  );
}

function signed(body: Buffer, delivery = 'delivery-1'): Record<string, string> {
  return {
    'content-type': 'application/json; charset=UTF-8',
    'x-nexus-webhook-id': 'rm:repository:component',
    'x-nexus-webhook-delivery': delivery,
    'x-nexus-webhook-signature': signWebhookBody(SECRET, body),
  };
}

/** An idempotency record as Powertools stores it (DynamoDB attribute values). */
function storedRecord(id: string, status: 'COMPLETED' | 'INPROGRESS', data?: unknown) {
  const now = Date.now();
  return marshall(
    { id, status, expiration: Math.floor(now / 1000) + 3600, ...(status === 'INPROGRESS' ? { in_progress_expiration: now + 60_000 } : {}), ...(data !== undefined ? { data } : {}) },
    { removeUndefinedValues: true },
  );
}

function conflict(item: ReturnType<typeof storedRecord>): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, Item: item });
}

const idempotencyKeys = () => dynamo.commandCalls(PutItemCommand).map((c) => String(c.args[0].input.Item?.id?.S));

async function webhook() {
  return (await import('../functions/webhook.ts')).handler;
}

const json = (response: APIGatewayProxyStructuredResultV2) => JSON.parse(String(response.body)) as Record<string, unknown>;

describe('webhook handler', () => {
  it('answers 401 to a missing or forged signature and touches neither SQS nor the idempotency table', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody();
    const forged = { ...signed(body), 'x-nexus-webhook-signature': signWebhookBody('not-the-secret', body) };
    const missing = signed(body);
    delete missing['x-nexus-webhook-signature'];

    // Act
    const responses = [await handler(urlEvent(body, forged), lambdaContext()), await handler(urlEvent(body, missing), lambdaContext())];

    // Assess
    expect(responses.map((r) => r.statusCode)).toEqual([401, 401]);
    expect(json(responses[0]!).message).toBe('X-Nexus-Webhook-Signature: missing or invalid');
    expect(sqs.calls()).toHaveLength(0);
    expect(dynamo.calls()).toHaveLength(0);
    expect(documents.calls()).toHaveLength(0);
    expect(nexus.requests.filter((r) => r.url.includes('/components/'))).toHaveLength(0);
    expect(logged()).not.toContain(SECRET);
  });

  it('answers 413 to a body over FERRY_WEBHOOK_MAX_BYTES before looking at it', async () => {
    // Prepare
    vi.stubEnv('FERRY_WEBHOOK_MAX_BYTES', '256');
    const handler = await webhook();
    const body = componentBody({ initiator: `admin/${'x'.repeat(300)}` });

    // Act
    const response = await handler(urlEvent(body, signed(body)), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(413);
    expect(json(response).message).toMatch(/exceeds 256/);
    expect(sqs.calls()).toHaveLength(0);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('answers 400 naming the field when a signed body fails the schema', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody({ component: { id: '1', format: 'raw', name: 'x' } });

    // Act
    const response = await handler(urlEvent(body, signed(body)), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({ message: 'component.componentId: required' });
    expect(sqs.calls()).toHaveLength(0);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('answers 502 when the change cannot be read back from Nexus, and queues nothing', async () => {
    // Prepare: Nexus fails the component read-back (beyond its retries)
    const handler = await webhook();
    const body = componentBody();
    nexus.injectFault({ method: 'GET', url: /\/service\/rest\/v1\/components\//, kind: 'status', status: 500, times: 20 });

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-502')), lambdaContext());

    // Assess
    expect(response.statusCode, logged()).toBe(502);
    expect(json(response)).toEqual({ message: 'could not read the change back from Nexus' });
    expect(sqs.calls()).toHaveLength(0);
  });

  it('answers 202 once the component’s task is sent to SQS, idempotent on delivery and task', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody();

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-202')), lambdaContext());

    // Assess
    expect(response.statusCode, logged()).toBe(202);
    expect(json(response)).toMatchObject({ deliveryId: 'delivery-202', queued: 1, alreadyQueued: 0 });
    const sent = sqs.commandCalls(SendMessageBatchCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.args[0].input.QueueUrl).toBe(QUEUE_URL);
    const task = JSON.parse(String(sent[0]!.args[0].input.Entries?.[0]?.MessageBody));
    expect(task).toMatchObject({ kind: 'raw', sourceRepository: 'raw-a', path: '/libs/widget-1.0.bin', targetRepository: 'raw-a' });
    expect(idempotencyKeys().map((k) => k.split('#')[0])).toEqual(['test-source.webhook.delivery', 'test-source.webhook.task']);
    expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(2);
  });

  it('queues nothing for a delivery id already completed and answers with the stored outcome', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody();
    dynamo.on(PutItemCommand).callsFake((input: { Item: { id: { S: string } } }) => {
      if (input.Item.id.S.startsWith('test-source.webhook.delivery#')) {
        throw conflict(storedRecord(input.Item.id.S, 'COMPLETED', { queued: 1, alreadyQueued: 0, alreadyStaged: 0 }));
      }
      return {};
    });
    const before = nexus.requests.length;

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-dup')), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(202);
    expect(json(response)).toMatchObject({ queued: 1, duplicate: true });
    expect(sqs.calls()).toHaveLength(0);
    expect(nexus.requests.length).toBe(before);
  });

  it('queues nothing for a new delivery whose task id was queued before (same content)', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody({ action: 'UPDATED' });
    dynamo.on(PutItemCommand).callsFake((input: { Item: { id: { S: string } } }) => {
      if (input.Item.id.S.startsWith('test-source.webhook.task#')) throw conflict(storedRecord(input.Item.id.S, 'COMPLETED', { id: 'x' }));
      return {};
    });

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-new')), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(202);
    expect(json(response)).toMatchObject({ queued: 0, alreadyQueued: 1 });
    expect(sqs.calls()).toHaveLength(0);
  });

  it('answers 409 while the same delivery is in progress elsewhere, queueing nothing', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody();
    dynamo.on(PutItemCommand).callsFake((input: { Item: { id: { S: string } } }) => {
      throw conflict(storedRecord(input.Item.id.S, 'INPROGRESS'));
    });

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-busy')), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(409);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('answers 503 when SQS refuses the send, and forgets the delivery so nothing claims it was queued', async () => {
    // Prepare: Nexus never retries a delivery; the 503 is for operators, the scan catches up.
    const handler = await webhook();
    const body = componentBody();
    sqs.on(SendMessageBatchCommand).rejects(Object.assign(new Error('Access to the resource is denied'), { name: 'AccessDenied', $fault: 'client' }));

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-sqs-down')), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(503);
    expect(json(response).message).toBe('could not queue the copy tasks');
    const deleted = dynamo.commandCalls(DeleteItemCommand).map((c) => String(c.args[0].input.Key?.id?.S).split('#')[0]);
    expect(deleted.sort()).toEqual(['test-source.webhook.delivery', 'test-source.webhook.task']);
    expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });

  it('reads no registry secret: only copy and scan talk to registries', async () => {
    // Prepare: a docker repository with a registry secret of its own, beside raw-a
    const registrySecretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-registry';
    defineRepositories([{ name: 'raw-a', format: 'raw' }, { name: 'docker-hosted', format: 'docker', registry: { url: 'https://registry.example', secretArn: registrySecretArn } }]);
    secrets.on(GetSecretValueCommand, { SecretId: registrySecretArn }).resolves({ SecretString: JSON.stringify({ username: 'r', password: 'r' }) });
    const handler = await webhook();
    const body = componentBody();

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-registries')), lambdaContext());

    // Assess
    expect(response.statusCode, logged()).toBe(202);
    expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId).sort()).toEqual([NEXUS_SECRET_ARN, WEBHOOK_SECRET_ARN]);
  });

  it('answers 202 with nothing queued for a DELETED event and logs the deletion', async () => {
    // Prepare
    const handler = await webhook();
    const body = componentBody({ action: 'DELETED' });

    // Act
    const response = await handler(urlEvent(body, signed(body, 'delivery-del')), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(202);
    expect(json(response)).toMatchObject({ queued: 0, ignored: 'deleted' });
    expect(sqs.calls()).toHaveLength(0);
    expect(logged()).toContain('deletion reported by Nexus');
  });
});

describe('environment', () => {
  it('fails the init naming a missing variable', async () => {
    // Prepare
    vi.stubEnv('FERRY_QUEUE_URL', undefined);

    // Act
    const loading = import('../functions/webhook.ts');

    // Assess
    await expect(loading).rejects.toThrow('environment variable FERRY_QUEUE_URL: required');
  });

  it('fails a scan naming the repository and field of a stored definition the schema refuses', async () => {
    // Prepare: a definition edited by hand in the table, past the API's validation
    defineRepositories([{ name: 'maven-releases', format: 'conda' }]);
    const { handler } = await import('../functions/scan.ts');

    // Act
    const scanning = handler({}, lambdaContext());

    // Assess
    await expect(scanning).rejects.toThrow(/^stored definition of maven-releases: format: must be one of raw, docker, /);
  });

  it('reads FERRY_REGISTRIES and FERRY_REPOSITORY_MAP of the import side, naming the repository and field at fault', async () => {
    // Prepare
    const { importEnvSchema, loadEnv } = await import('../functions/env.ts');
    const base = {
      POWERTOOLS_SERVICE_NAME: 'ferry-import',
      POWERTOOLS_METRICS_NAMESPACE: 'Ferry',
      FERRY_TARGET_URL: 'https://nexus.isolated.example',
      FERRY_IMPORT_TABLE: 't',
      FERRY_HELD_BUCKET: 'b',
      FERRY_TRUSTED_PUBLIC_KEYS: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----',
    };
    const good = { 'docker-hosted': { url: 'https://nexus.isolated.example:8083', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:r' } };

    // Act
    const parsed = loadEnv(importEnvSchema, { ...base, FERRY_REGISTRIES: JSON.stringify(good) });
    const none = loadEnv(importEnvSchema, base);
    const bad = () => loadEnv(importEnvSchema, { ...base, FERRY_REGISTRIES: JSON.stringify({ 'docker-hosted': { url: 'ftp://x' } }) });

    // Assess
    expect(parsed.FERRY_REGISTRIES).toEqual(good);
    expect(none.FERRY_REGISTRIES).toEqual({});
    expect(bad).toThrow(/^environment variable FERRY_REGISTRIES: \["docker-hosted"\]\.url: /);
    expect(loadEnv(importEnvSchema, { ...base, FERRY_REPOSITORY_MAP: '{"raw-a":"raw-mirror"}' }).FERRY_REPOSITORY_MAP).toEqual({ 'raw-a': 'raw-mirror' });
    expect(() => loadEnv(importEnvSchema, { ...base, FERRY_REPOSITORY_MAP: '{"raw-a":"not a name"}' })).toThrow(/^environment variable FERRY_REPOSITORY_MAP: \["raw-a"\]: must be a Nexus repository name/);
  });

  it('fails with an EnvError, one of Ferry\'s errors, naming the variable and the field inside its JSON', async () => {
    // Prepare
    const { EnvError, importEnvSchema, loadEnv } = await import('../functions/env.ts');
    const { FerryError } = await import('../shared/errors.ts');
    const env = {
      POWERTOOLS_SERVICE_NAME: 'ferry-import',
      POWERTOOLS_METRICS_NAMESPACE: 'Ferry',
      FERRY_TARGET_URL: 'https://nexus.isolated.example',
      FERRY_IMPORT_TABLE: 't',
      FERRY_HELD_BUCKET: 'b',
      FERRY_TRUSTED_PUBLIC_KEYS: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----',
      FERRY_REGISTRIES: JSON.stringify({ 'docker-hosted': {} }),
    };

    // Act
    const error = (() => {
      try {
        return loadEnv(importEnvSchema, env);
      } catch (caught) {
        return caught;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(EnvError);
    expect(error).toBeInstanceOf(FerryError);
    expect(error).toMatchObject({ name: 'EnvError', variable: 'FERRY_REGISTRIES', message: 'environment variable FERRY_REGISTRIES: ["docker-hosted"].url: must be an http(s) URL' });
  });
});

// ───────────────────────────── copy ─────────────────────────────

function sqsRecord(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1736936430000', SenderId: 'AIDA', ApproximateFirstReceiveTimestamp: '1736936430000' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:ferry-tasks',
    awsRegion: 'us-east-1',
  };
}

const validTask = {
  kind: 'raw',
  id: 'a'.repeat(40),
  sourceRepository: 'raw-a',
  path: '/libs/widget-1.0.bin',
  targetRepository: 'raw-a',
  checksums: { sha256: 'b'.repeat(64) },
  size: 2048,
};

describe('copy handler', () => {
  it('reports poison messages as failures with the reason logged, without touching AWS', async () => {
    // Prepare
    const { handler } = await import('../functions/copy.ts');
    const event: SQSEvent = { Records: [sqsRecord('m-json', 'not json'), sqsRecord('m-schema', JSON.stringify({ ...validTask, path: undefined }))] };

    // Act
    const response = await handler(event, lambdaContext());

    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-json', 'm-schema']);
    expect(logged()).toMatch(/poison message.*body is not JSON/s);
    expect(logged()).toMatch(/poison message[\s\S]*path/);
    expect(dynamo.calls()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });

  it('does not run a task whose id is already completed: the stored outcome stands', async () => {
    // Prepare
    const { handler } = await import('../functions/copy.ts');
    dynamo.on(PutItemCommand).callsFake((input: { Item: { id: { S: string } } }) => {
      throw conflict(storedRecord(input.Item.id.S, 'COMPLETED', { status: 'staged', bytes: 2048 }));
    });
    const before = nexus.requests.length;

    // Act
    const response = await handler({ Records: [sqsRecord('m-1', JSON.stringify(validTask))] }, lambdaContext());

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(idempotencyKeys()).toHaveLength(1);
    expect(idempotencyKeys()[0]).toMatch(/^test-source\.copy#/);
    expect(nexus.requests.length).toBe(before);
    expect(s3.calls()).toHaveLength(0);
  });

  it('fails (for redelivery) a task another invocation is copying right now, keeping its neighbours', async () => {
    // Prepare
    const { handler } = await import('../functions/copy.ts');
    const busy = { ...validTask, id: 'c'.repeat(40) };
    dynamo.on(PutItemCommand).callsFake((input: { Item: { id: { S: string } } }) => {
      const running = dynamo.commandCalls(PutItemCommand).length;
      throw conflict(storedRecord(input.Item.id.S, running === 1 ? 'INPROGRESS' : 'COMPLETED', { status: 'known' }));
    });

    // Act
    const response = await handler({ Records: [sqsRecord('m-busy', JSON.stringify(busy)), sqsRecord('m-done', JSON.stringify(validTask))] }, lambdaContext());

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-busy' }]);
    expect(logged()).toContain('already an execution in progress');
  });
});

// ───────────────────────────── import ─────────────────────────────


describe('import handler', () => {
  it('fails, writing nothing, when the bundle is replaced in the inbox after the import opened it', async () => {
    // Prepare: HEAD sees one upload; by the first read S3 holds another (If-Match fails)
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    vi.stubEnv('FERRY_TARGET_URL', nexus.url);
    vi.stubEnv('FERRY_IMPORT_TABLE', 'ferry-import');
    vi.stubEnv('FERRY_HELD_BUCKET', 'ferry-held');
    vi.stubEnv('FERRY_TRUSTED_PUBLIC_KEYS', publicKey.export({ type: 'spki', format: 'pem' }).toString());
    s3.on(HeadObjectCommand).resolves({ ETag: '"first-upload"', ContentLength: 4096 });
    s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'At least one of the pre-conditions you specified did not hold' }));
    const { handler } = await import('../functions/import.ts');

    // Act
    const importing = handler(s3ObjectCreated('ferry-inbox', 'bundles/test-source-00000001.tar', 4096), lambdaContext());

    // Assess
    await expect(importing).rejects.toMatchObject({ name: 'BundleChangedError', message: expect.stringContaining('s3://ferry-inbox/bundles/test-source-00000001.tar was replaced') });
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toMatchObject({ IfMatch: '"first-upload"' });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(documents.calls()).toHaveLength(0);
  });
});
