/**
 * The periodic full reconcile of deletions on AWS: the scan function invoked with the
 * reconcile schedule's input (`{"reconcile": true}`) against DynamoDB Local, fauxqs (S3,
 * SQS) and the Nexus stand-in. The ledger is filled the deployed way (scan → SQS → copy);
 * an asset deleted on the source with no webhook seen becomes the tombstone the embedded
 * reconcile records (the same core function), once. Secrets Manager alone is mocked.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { seedPutItemInput } from '../shared/adapters/aws/dynamo-definitions.ts';
import { RECONCILE_METRICS } from '../functions/metrics.ts';
import { createTableInput, DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { keys } from '../shared/adapters/aws/dynamo-keys.ts';
import { backfillPathItems } from '../shared/adapters/aws/dynamo-path-backfill.ts';
import { DynamoTable } from '../shared/adapters/aws/dynamo-table.ts';
import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { seedDefinitions } from '../shared/config/definitions.ts';
import { tombstoneFor } from '../shared/core/export/tombstones.ts';
import { signWebhookBody, startNexusStandin, type NexusStandin } from './nexus-standin/index.ts';
import { makeDynamoClient, makeS3Client, makeSqsClient } from './support/emulators.ts';
import { lambdaContext, sqsEvent, urlEvent } from './support/lambda-events.ts';
import { emulatorEnv } from './support/lambda-env.ts';

const NEXUS_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-nexus';
const WEBHOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-webhook';
const WEBHOOK_SECRET = 'reconcile-webhook-s3cret';
const NEXUS_USER = { username: 'ferry-reader', password: 'reader-pa55' };
const credentials = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' };
const awsEndpoint = inject('awsEndpoint');
const dynamoEndpoint = inject('dynamoEndpoint');
const secrets = mockClient(SecretsManagerClient);

let nexus: NexusStandin;
beforeAll(async () => {
  nexus = await startNexusStandin({
    repositories: [{ name: 'raw-a', format: 'raw', type: 'hosted' }, { name: 'raw-b', format: 'raw', type: 'hosted' }],
    users: [NEXUS_USER],
  });
});
afterAll(async () => nexus.close());

beforeEach(() => {
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: NEXUS_SECRET_ARN }).resolves({ SecretString: JSON.stringify(NEXUS_USER) });
  secrets.on(GetSecretValueCommand, { SecretId: WEBHOOK_SECRET_ARN }).resolves({ SecretString: WEBHOOK_SECRET });
  for (const method of ['log', 'info', 'warn', 'debug'] as const) vi.spyOn(console, method).mockImplementation(() => undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** A bucket, queue and state table of their own, raw-a carrying deletions and raw-b not; the handlers loaded cold. */
async function deploy() {
  const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const table = `ferry-reconcile-${suffix}`;
  const bucket = `ferry-reconcile-${suffix}`;
  await makeS3Client(awsEndpoint).send(new CreateBucketCommand({ Bucket: bucket }));
  const created = await makeSqsClient(awsEndpoint).send(new CreateQueueCommand({ QueueName: `ferry-reconcile-${suffix}`, Attributes: { VisibilityTimeout: '60' } }));
  const queueUrl = String(created.QueueUrl).replace(/^https?:\/\/[^/]+/, awsEndpoint);
  const dynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region: 'us-east-1', credentials });
  await dynamo.send(new CreateTableCommand(createTableInput(table)));
  const repositories = [{ name: 'raw-a', format: 'raw', deletions: 'carry' }, { name: 'raw-b', format: 'raw' }];
  await dynamo.send(new PutItemCommand(seedPutItemInput(table, seedDefinitions('test-source', repositories, 'test'))));
  // Copy's Powertools idempotency store.
  const idempotency = { TableName: `ferry-idempotency-${suffix}`, AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }] };
  await dynamo.send(new CreateTableCommand({ ...idempotency, BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }));
  dynamo.destroy();
  const env: Record<string, string> = {
    ...emulatorEnv('ferry-reconcile', { aws: awsEndpoint, dynamo: dynamoEndpoint }, credentials),
    FERRY_SOURCE_ID: 'test-source',
    FERRY_TABLE: table,
    FERRY_BUCKET: bucket,
    FERRY_QUEUE_URL: queueUrl,
    FERRY_NEXUS_URL: nexus.url,
    FERRY_NEXUS_SECRET_ARN: NEXUS_SECRET_ARN,
    FERRY_IDEMPOTENCY_TABLE: idempotency.TableName,
    FERRY_WEBHOOK_SECRET_ARN: WEBHOOK_SECRET_ARN,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const state = new DynamoExportState({ client: makeDynamoClient(dynamoEndpoint), table, sourceId: 'test-source' });
  return {
    queueUrl,
    state,
    table,
    scan: (await import('../functions/scan.ts')).handler,
    copy: (await import('../functions/copy.ts')).handler,
    webhook: (await import('../functions/webhook.ts')).handler,
  };
}

/** Every message now visible, as the SQS event source would deliver them. */
async function drain(queueUrl: string) {
  const sqs = makeSqsClient(awsEndpoint);
  const messages: Message[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
  }
  return sqsEvent(messages, 'arn:aws:sqs:us-east-1:000000000000:ferry-reconcile');
}

async function deleteOnSource(assetId: string): Promise<void> {
  const auth = `Basic ${Buffer.from(`${NEXUS_USER.username}:${NEXUS_USER.password}`).toString('base64')}`;
  const response = await fetch(`${nexus.url}/service/rest/v1/assets/${assetId}`, { method: 'DELETE', headers: { authorization: auth } });
  expect(response.status).toBe(204);
}

describe('the reconcile schedule on the scan function', () => {
  it('records a tombstone for each staged path gone from a carrying repository, once, and none for a repository that does not carry', async () => {
    // Prepare: three assets staged through scan → SQS → copy, then two deleted on the source (no webhook)
    const d = await deploy();
    const kept = nexus.putRawAsset('raw-a', '/reconcile/kept.bin', Buffer.alloc(300, 1));
    const gone = nexus.putRawAsset('raw-a', '/reconcile/gone.bin', Buffer.alloc(400, 2));
    const other = nexus.putRawAsset('raw-b', '/reconcile/other.bin', Buffer.alloc(500, 3));
    await d.scan({}, lambdaContext());
    expect((await d.copy(await drain(d.queueUrl), lambdaContext())).batchItemFailures).toEqual([]);
    const staged = await d.state.latestEntries('raw-a', '/reconcile/gone.bin', { prefix: false });
    await deleteOnSource(gone.assetId);
    await deleteOnSource(other.assetId);

    // Act
    const first = await d.scan({ reconcile: true }, lambdaContext());
    const firstMetrics = reconcileMetrics();
    vi.mocked(console.log).mockClear();
    const again = await d.scan({ reconcile: true }, lambdaContext());
    const refused = d.scan({ reconcile: 'yes' }, lambdaContext());

    // Assess
    expect(kept.assetId).toBeDefined();
    // The path index of a deployment that always wrote PATH items: checked once, rewritten equal
    expect(first).toEqual({ reconciled: [{ repository: 'raw-a', staged: 1 }], failures: [], pathIndex: { complete: true, written: 3 } });
    expect(again).toEqual({ reconciled: [{ repository: 'raw-a', staged: 0 }], failures: [], pathIndex: { complete: true, written: 0 } });
    await expect(refused).rejects.toThrow(/^not a reconcile request: reconcile: /);
    // What the failure alarm and the dashboard read
    expect(firstMetrics).toEqual({ ReconcileTombstones: 1, ReconcileFailures: 0, ReconcilePathIndexIncomplete: 0 });
    const tombstones = (await d.state.listPendingEntries()).filter((e) => e.kind === 'tombstone').map(({ seq: _, ...e }) => e);
    expect(staged).toHaveLength(1);
    expect(tombstones).toEqual([tombstoneFor(staged[0]!)]);
  });

  it('indexes the paths of entries older than PATH items first, waiting while time runs short, then finds what the source deleted among them', async () => {
    // Prepare: two assets staged, then their PATH items removed, as a deployment from before them has none
    const d = await deploy();
    nexus.putRawAsset('raw-a', '/old/kept.bin', Buffer.alloc(300, 1));
    const gone = nexus.putRawAsset('raw-a', '/old/gone.bin', Buffer.alloc(400, 2));
    await d.scan({}, lambdaContext());
    expect((await d.copy(await drain(d.queueUrl), lambdaContext())).batchItemFailures).toEqual([]);
    // (raw-a also holds what earlier tests left on the shared stand-in: at least these two)
    const removed = (await removePathItems(d.table, 'raw-a')) + (await removePathItems(d.table, 'raw-b'));
    expect(removed).toBeGreaterThanOrEqual(2);
    expect(await d.state.latestEntries('raw-a', '/old/', { prefix: true })).toEqual([]);
    await deleteOnSource(gone.assetId);

    // Act: a run with too little time left, then one with enough
    const short = await d.scan({ reconcile: true }, lambdaContext({ remainingMs: 30_000 }));
    const tombstonesAfterShort = (await d.state.listPendingEntries()).filter((e) => e.kind === 'tombstone');
    const full = await d.scan({ reconcile: true }, lambdaContext());

    // Assess: nothing reconciled against the incomplete index; then the old path's deletion is found
    expect(short).toEqual({ reconciled: [], failures: [], pathIndex: { complete: false, written: 0 } });
    expect(tombstonesAfterShort).toEqual([]);
    expect(full).toEqual({ reconciled: [{ repository: 'raw-a', staged: 1 }], failures: [], pathIndex: { complete: true, written: removed } });
    const tombstones = (await d.state.listPendingEntries()).filter((e) => e.kind === 'tombstone');
    expect(tombstones.map((t) => t.path)).toEqual(['/old/gone.bin']);
  });
});

/** A PURGED delivery as Nexus's SQL store sends it: bare ids, no single component. */
function purgedDelivery(repositoryName: string, ids: string[], deliveryId: string) {
  const body = Buffer.from(JSON.stringify({ timestamp: '2025-01-15T10:20:30.123+00:00', nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93', initiator: 'system', repositoryName, action: 'PURGED', components: ids }));
  return urlEvent(body, {
    'content-type': 'application/json; charset=UTF-8',
    'x-nexus-webhook-id': 'rm:repository:component',
    'x-nexus-webhook-delivery': deliveryId,
    'x-nexus-webhook-signature': signWebhookBody(WEBHOOK_SECRET, body),
  });
}

describe('a PURGED event on the webhook function', () => {
  it('asks for the full reconcile of its repository, which the next scheduled scan runs once; none for a repository that does not carry, and one left from when it did is dropped unrun', async () => {
    // Prepare: an asset staged the deployed way, then purged on the source (the event names only ids)
    const d = await deploy();
    const purged = nexus.putRawAsset('raw-a', '/purged/old.bin', Buffer.alloc(600, 7));
    await d.scan({}, lambdaContext());
    expect((await d.copy(await drain(d.queueUrl), lambdaContext())).batchItemFailures).toEqual([]);
    await deleteOnSource(purged.assetId);

    // Act
    const answered = await d.webhook(purgedDelivery('raw-a', ['fa8cfc42'], 'purged-1'), lambdaContext());
    await d.webhook(purgedDelivery('raw-b', ['fa8cfc43'], 'purged-2'), lambdaContext());
    const requested = await d.state.reconcileRequests();
    await d.state.requestReconcile('raw-b', new Date().toISOString());
    const first = await d.scan({}, lambdaContext());
    const second = await d.scan({}, lambdaContext());

    // Assess
    expect(answered.statusCode).toBe(202);
    expect(requested.map((r) => r.repository)).toEqual(['raw-a']);
    expect(first.reconciled).toEqual(['raw-a']);
    expect(second.reconciled).toBeUndefined();
    expect(await d.state.reconcileRequests()).toEqual([]);
    const tombstones = (await d.state.listPendingEntries()).filter((e) => e.kind === 'tombstone');
    expect(tombstones.map((t) => t.path)).toContain('/purged/old.bin');
  });
});

describe('reconcile requests in the state table', () => {
  it('keeps the latest request of each repository, and clearing an older one leaves a newer one for the next scan', async () => {
    // Prepare
    const d = await deploy();
    const [t0, t1, t2] = ['2026-12-03T10:00:00.000Z', '2026-12-03T10:00:01.000Z', '2026-12-03T10:00:02.000Z'];

    // Act: a request at t1, a newer at t2, a late delivery's older t0; the run for t1 clears
    await d.state.requestReconcile('raw-a', t1);
    await d.state.requestReconcile('raw-a', t2);
    await d.state.requestReconcile('raw-a', t0);
    await d.state.clearReconcileRequest('raw-a', t1);
    const afterStaleClear = await d.state.reconcileRequests();
    await d.state.clearReconcileRequest('raw-a', t2);

    // Assess
    expect(afterStaleClear).toEqual([{ repository: 'raw-a', requestedAt: t2 }]);
    expect(await d.state.reconcileRequests()).toEqual([]);
  });
});

describe('the PATH items backfill', () => {
  it('goes on from its saved cursor after a stop, and writes every missing PATH item exactly as staging does', async () => {
    // Prepare: five entries whose PATH items are gone
    const d = await deploy();
    for (let i = 0; i < 5; i++) nexus.putRawAsset('raw-b', `/backfill/f-${i}.bin`, Buffer.alloc(100 + i, i));
    await d.scan({}, lambdaContext());
    expect((await d.copy(await drain(d.queueUrl), lambdaContext())).batchItemFailures).toEqual([]);
    const before = [...(await pathItems(d.table, 'raw-a')), ...(await pathItems(d.table, 'raw-b'))];
    const removed = (await removePathItems(d.table, 'raw-a')) + (await removePathItems(d.table, 'raw-b'));
    expect(removed).toBeGreaterThanOrEqual(5);
    const allPathItems = async () => [...(await pathItems(d.table, 'raw-a')), ...(await pathItems(d.table, 'raw-b'))];
    const table = new DynamoTable(makeDynamoClient(dynamoEndpoint), d.table);

    // Act: pages of 2 items; stop after the first page, then run to the end, then once more
    let pages = 0;
    const stopped = await backfillPathItems(table, 'test-source', () => pages++ >= 1, 2);
    const afterStop = (await allPathItems()).length;
    const finished = await backfillPathItems(table, 'test-source', () => false, 2);
    const again = await backfillPathItems(table, 'test-source', () => false, 2);

    // Assess
    expect(stopped.complete).toBe(false);
    expect(afterStop).toBe(stopped.written);
    expect(afterStop).toBeLessThan(removed);
    expect(finished.complete).toBe(true);
    expect(stopped.written + finished.written).toBe(removed);
    expect(await allPathItems()).toEqual(before);
    expect(again).toEqual({ complete: true, written: 0 });
  });
});

describe('the PATH items backfill killed (SIGKILL), then run again', () => {
  it.each(['reconcile:backfill-page-written', 'reconcile:backfill-cursor-saved'])('killed at %s: the run again completes, every PATH item written exactly as staging does', async (point) => {
    // Prepare: entries whose PATH items are gone
    const d = await deploy();
    for (let i = 0; i < 4; i++) nexus.putRawAsset('raw-b', `/killed/${point}/f-${i}.bin`, Buffer.alloc(50 + i, i));
    await d.scan({}, lambdaContext());
    expect((await d.copy(await drain(d.queueUrl), lambdaContext())).batchItemFailures).toEqual([]);
    const all = async () => [...(await pathItems(d.table, 'raw-a')), ...(await pathItems(d.table, 'raw-b'))];
    const before = await all();
    await removePathItems(d.table, 'raw-a');
    await removePathItems(d.table, 'raw-b');

    // Act: a child process killed at the point, pages of 2 items; then the backfill again
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures', 'backfill-crash-child.ts'), dynamoEndpoint, d.table, 'test-source', '2'], {
      env: { ...process.env, FERRY_FAULT_POINT: point },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    const again = await backfillPathItems(new DynamoTable(makeDynamoClient(dynamoEndpoint), d.table), 'test-source', () => false, 2);

    // Assess
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(again.complete).toBe(true);
    expect(await all()).toEqual(before);
  });
});

/** The PATH items of a source repository, sorted by key. */
async function pathItems(table: string, repository: string) {
  const out = await makeDynamoClient(dynamoEndpoint).send(
    new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.pathsPk('test-source', repository) }, ConsistentRead: true }),
  );
  return (out.Items ?? []).sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
}

/** Deletes a repository's PATH items, as a table from before them lacks; returns how many. */
async function removePathItems(table: string, repository: string): Promise<number> {
  const items = await pathItems(table, repository);
  const client = makeDynamoClient(dynamoEndpoint);
  for (const item of items) await client.send(new DeleteCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk } }));
  return items.length;
}


/** The reconcile's metrics as the scan function printed them (Powertools EMF on console.log in dev mode). */
function reconcileMetrics(): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [line] of vi.mocked(console.log).mock.calls) {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(String(line)) as Record<string, unknown>;
    } catch {
      continue;
    }
    for (const name of Object.values(RECONCILE_METRICS)) if (name in record) values[name] = record[name];
  }
  return values;
}
