/**
 * One deployment of the serverless flow for the cost benchmark, as test/deployed-flow.test.ts
 * builds it: a bucket, queue and tables in the emulators, two Nexus stand-ins, each function
 * loaded with the environment infra/ gives it (its literal values from the CDK constructs,
 * resource names from this deployment), and the handlers invoked as Lambda would: timed,
 * metered, one at a time.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { FunctionName } from '../infra/common.ts';
import { seedPutItemInput } from '../shared/adapters/aws/dynamo-definitions.ts';
import { createTableInput } from '../shared/adapters/aws/dynamo-export-state.ts';
import { seedDefinitions, type Definitions } from '../shared/config/definitions.ts';
import { createImportTableInput } from '../shared/adapters/aws/dynamo-import-state.ts';
import { makeS3Client, makeSqsClient, type Emulators } from '../test/support/emulators.ts';
import { lambdaContext, s3ObjectCreated, sqsEvent, urlEvent } from '../test/support/lambda-events.ts';
import { makeImageWorld, type ImageWorld } from '../test/support/image-world.ts';
import { makeWorld, type World } from '../test/support/world.ts';
import type { AwsMeter } from './aws-meter.ts';
import type { FakeAws } from './aws-fakes.ts';
import type { DeployedConfig } from './deployed-config.ts';

const region = 'us-east-1';
// DynamoDB Local accepts access key ids of letters and digits only.
const credentials = { accessKeyId: 'ferrybench', secretAccessKey: 'ferrybench' };
/** The stand-ins' users (test/support/world.ts). */
const SOURCE_USER = { username: 'ferry-reader', password: 'source-pa55' };
const TARGET_USER = { username: 'ferry-writer', password: 'target-pa55' };
const WEBHOOK_SECRET = 'cost-bench-s3cret';

/** What the SDK clients of the functions read from the environment: the emulators' endpoints. */
export function awsEnv(emulators: Emulators): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_S3: emulators.awsEndpoint,
    AWS_ENDPOINT_URL_SQS: emulators.awsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
  };
}

/** Sets `vars` in process.env; the returned function puts back what was there. */
export function setEnv(vars: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

interface Handlers {
  webhook: typeof import('../functions/webhook.ts').handler;
  scan: typeof import('../functions/scan.ts').handler;
  copy: typeof import('../functions/copy.ts').handler;
  seal: typeof import('../functions/seal.ts').handler;
  import: typeof import('../functions/import.ts').handler;
  definitions: typeof import('../functions/definitions.ts').handler;
}

/** What the source Nexus holds: raw artifacts (repository raw-a), or docker images (docker-hosted, its registry beside it). */
export type Format = 'raw' | 'docker';

export interface Deployment {
  /** Source and target Nexus stand-ins of a raw deployment. */
  world?: World;
  /** Registries and Nexus stand-ins of a docker deployment. */
  images?: ImageWorld;
  bucket: string;
  inbox: string;
  queueUrl: string;
  queueArn: string;
  invoke: { [F in FunctionName]: (event: Parameters<Handlers[F]>[0]) => ReturnType<Handlers[F]> };
  /** Puts the webhook function behind a Function URL and has the source Nexus post component events to it. */
  subscribeWebhook(): Promise<void>;
  close(): Promise<void>;
}

interface Parts {
  emulators: Emulators;
  config: DeployedConfig;
  meter: AwsMeter;
  fakes: FakeAws;
}

/** The bucket, queue and tables of deployment `id` in the emulators (as infra/ would create them). */
async function createResources(id: string, emulators: Emulators) {
  const names = { bucket: `ferry-cost-${id}`, inbox: `ferry-cost-inbox-${id}`, held: `ferry-cost-held-${id}`, table: `ferry-cost-${id}`, importTable: `ferry-cost-import-${id}`, idempotency: `ferry-cost-idem-${id}` };
  const s3 = makeS3Client(emulators.awsEndpoint);
  const sqs = makeSqsClient(emulators.awsEndpoint);
  const dynamo = new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region, credentials });
  try {
    for (const bucket of [names.bucket, names.inbox, names.held]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `ferry-cost-${id}`, Attributes: { VisibilityTimeout: '900' } }));
    // fauxqs names queues sqs.<region>.localhost: point the URL at the emulator, as a real one points at SQS.
    const queueUrl = String(created.QueueUrl).replace(/^https?:\/\/[^/]+/, emulators.awsEndpoint);
    const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    const queueArn = attributes.Attributes?.QueueArn ?? `arn:aws:sqs:${region}:123456789012:ferry-cost-${id}`;
    await dynamo.send(new CreateTableCommand(createTableInput(names.table)));
    await dynamo.send(new CreateTableCommand(createImportTableInput(names.importTable)));
    await dynamo.send(
      new CreateTableCommand({
        TableName: names.idempotency,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    return { ...names, queueUrl, queueArn };
  } finally {
    s3.destroy();
    sqs.destroy();
    dynamo.destroy();
  }
}

/** Writes the seed as the stack's custom resource does (infra/definitions.ts). */
async function seedTable(emulators: Emulators, table: string, definitions: Definitions): Promise<void> {
  const dynamo = new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region, credentials });
  try {
    await dynamo.send(new PutItemCommand(seedPutItemInput(table, definitions)));
  } finally {
    dynamo.destroy();
  }
}

/** Creates the resources of one deployment named `id` and loads its functions cold. */
export async function deploy(id: string, parts: Parts, format: Format): Promise<Deployment> {
  const { emulators, config, meter, fakes } = parts;
  const world = format === 'raw' ? await makeWorld({ repositories: ['raw-a'] }) : undefined;
  // The isolated Nexus names the docker repository differently: mapped, as in the deployed-flow test.
  const images = format === 'docker' ? await makeImageWorld({ targetRepository: 'docker-isolated' }) : undefined;
  const nexus = { source: world?.source.url ?? images!.nexus.url, target: world?.target.url ?? images!.targetNexus.url };
  const names = await createResources(id, emulators);
  const { queueUrl, queueArn } = names;
  const arn = (name: string) => `arn:aws:secretsmanager:${region}:123456789012:secret:${name}-${id}`;
  const kmsKey = (name: string) => `arn:aws:kms:${region}:123456789012:key/${name}-${id}`;
  const secrets = { webhook: arn('ferry-webhook'), nexus: arn('ferry-nexus'), target: arn('ferry-target') };
  fakes.putSecret(secrets.webhook, WEBHOOK_SECRET);
  fakes.putSecret(secrets.nexus, JSON.stringify(SOURCE_USER));
  fakes.putSecret(secrets.target, JSON.stringify(TARGET_USER));
  const exportCommon = {
    FERRY_SOURCE_ID: 'bench-source',
    FERRY_TABLE: names.table,
    FERRY_BUCKET: names.bucket,
    FERRY_QUEUE_URL: queueUrl,
    FERRY_NEXUS_URL: nexus.source,
    FERRY_NEXUS_SECRET_ARN: secrets.nexus,
  };
  // The carried repositories: the sync definitions in the state table, as the stack seeds them.
  const repositories = images ? [{ name: 'docker-hosted', format: 'docker', registry: { url: images.source.url } }] : [{ name: 'raw-a', format: 'raw' }];
  await seedTable(emulators, names.table, seedDefinitions(exportCommon.FERRY_SOURCE_ID, repositories, 'bench'));
  const own: Record<FunctionName, Record<string, string>> = {
    webhook: { ...exportCommon, FERRY_WEBHOOK_SECRET_ARN: secrets.webhook, FERRY_IDEMPOTENCY_TABLE: names.idempotency },
    scan: exportCommon,
    copy: { ...exportCommon, FERRY_IDEMPOTENCY_TABLE: names.idempotency, FERRY_SEAL_FUNCTION_NAME: `ferry-seal-${id}` },
    seal: { ...exportCommon, FERRY_KMS_KEY_ID: kmsKey('ferry-signing') },
    definitions: {
      FERRY_SOURCE_ID: exportCommon.FERRY_SOURCE_ID,
      FERRY_TABLE: names.table,
      FERRY_REGISTRY_SECRET_ARN_PREFIX: `arn:aws:secretsmanager:us-east-1:000000000000:secret:ferry/${exportCommon.FERRY_SOURCE_ID}/`,
    },
    import: {
      FERRY_TARGET_URL: nexus.target,
      ...(images ? { FERRY_REPOSITORY_MAP: JSON.stringify({ 'docker-hosted': 'docker-isolated' }), FERRY_REGISTRIES: JSON.stringify({ 'docker-isolated': { url: images.target.url } }) } : {}),
      FERRY_TARGET_SECRET_ARN: secrets.target,
      FERRY_IMPORT_TABLE: names.importTable,
      FERRY_HELD_BUCKET: names.held,
      FERRY_TRUSTED_PUBLIC_KEYS: fakes.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      FERRY_KMS_KEY_ID: kmsKey('ferry-receipts'),
    },
  };
  const handlers = await loadHandlers(id, config, own);
  const context = (fn: FunctionName) => lambdaContext({ name: `ferry-${fn}`, memoryMb: config.functions[fn].memoryMb, remainingMs: 900_000 });
  const invoke = Object.fromEntries(
    (Object.keys(handlers) as FunctionName[]).map((fn) => [fn, (event: never) => meter.invoke(fn, () => (handlers[fn] as (e: never, c: unknown) => Promise<unknown>)(event, context(fn)))]),
  ) as Deployment['invoke'];
  let server: Server | undefined;
  return {
    ...(world ? { world } : {}),
    ...(images ? { images } : {}),
    bucket: names.bucket,
    inbox: names.inbox,
    queueUrl,
    queueArn,
    invoke,
    async subscribeWebhook() {
      server ??= await functionUrl(invoke.webhook);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      if (world === undefined) throw new Error('webhooks are benchmarked for raw repositories only');
      world.source.addWebhook({ repository: 'raw-a', url, secret: WEBHOOK_SECRET, events: ['component'] });
    },
    async close() {
      if (server !== undefined) await new Promise((resolve) => server!.close(resolve));
      await world?.close();
      await images?.close();
    },
  };
}

/**
 * Imports each handler afresh (a query string makes a new module instance) with the
 * environment infra/ deploys it with: its literal values, then this deployment's names.
 * Fails when infra/ sets a variable the benchmark does not know how to fill.
 */
async function loadHandlers(id: string, config: DeployedConfig, own: Record<FunctionName, Record<string, string>>): Promise<Handlers> {
  const load = async <F extends FunctionName>(fn: F): Promise<Handlers[F]> => {
    const env = { ...config.functions[fn].literalEnv, ...own[fn] };
    const unknown = config.functions[fn].variables.filter((name) => env[name] === undefined);
    if (unknown.length > 0) throw new Error(`the cost benchmark does not set ${unknown.join(', ')} of the ${fn} function (infra/)`);
    const restore = setEnv(env);
    try {
      return ((await import(`../functions/${fn}.ts?deployment=${id}`)) as { handler: Handlers[F] }).handler;
    } finally {
      restore();
    }
  };
  return { webhook: await load('webhook'), scan: await load('scan'), copy: await load('copy'), seal: await load('seal'), import: await load('import'), definitions: await load('definitions') };
}

/** A Lambda Function URL in front of the webhook function: what Nexus posts becomes the event Lambda hands over. */
async function functionUrl(webhook: Deployment['invoke']['webhook']): Promise<Server> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
    const response = await webhook(urlEvent(Buffer.concat(chunks), headers));
    res.writeHead(response.statusCode ?? 200, { 'content-type': 'application/json' }).end(response.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * The SQS event source mapping: receives up to `batchSize` messages per copy invocation
 * (ReceiveMessage returns at most 10), and deletes the ones copy did not report failed.
 * Stops once `expected` messages were delivered. `sqs` is the poller's own (metered) client.
 */
export async function pollIntoCopy(d: Deployment, sqs: ReturnType<typeof makeSqsClient>, batchSize: number, expected: number): Promise<{ delivered: number; failed: number }> {
  let delivered = 0;
  let failed = 0;
  let empty = 0;
  while (delivered < expected) {
    const batch: Message[] = [];
    while (batch.length < batchSize && delivered + batch.length < expected) {
      const max = Math.min(10, batchSize - batch.length);
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: d.queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
      if (!out.Messages?.length) break;
      batch.push(...out.Messages);
    }
    if (batch.length === 0) {
      if (++empty > 5) throw new Error(`the queue ran dry after ${delivered} of ${expected} messages`);
      continue;
    }
    delivered += batch.length;
    const response = await d.invoke.copy(sqsEvent(batch, d.queueArn));
    const failures = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    failed += failures.size;
    const done = batch.filter((m) => !failures.has(String(m.MessageId)));
    for (let i = 0; i < done.length; i += 10) {
      const entries = done.slice(i, i + 10).map((m, n) => ({ Id: String(n), ReceiptHandle: String(m.ReceiptHandle) }));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: d.queueUrl, Entries: entries }));
    }
  }
  return { delivered, failed };
}


/**
 * Ops carry a sealed bundle across the gap: a GET from the export bucket, a PUT into the
 * inbox (`s3` is the operator's metered client); S3 then starts the import function.
 */
export async function carryAndImport(d: Deployment, s3: ReturnType<typeof makeS3Client>, bundleName: string): Promise<{ bytes: number; statuses: string[] }> {
  const key = `bundles/${bundleName}`;
  const got = await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: key }));
  const body = Buffer.from(await got.Body!.transformToByteArray());
  await s3.send(new PutObjectCommand({ Bucket: d.inbox, Key: key, Body: body }));
  const imported = await d.invoke.import(s3ObjectCreated(d.inbox, key, body.length));
  return { bytes: body.length, statuses: imported.bundles.map((b) => b.status) };
}
