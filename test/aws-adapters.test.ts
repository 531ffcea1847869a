/**
 * What only the AWS adapters do, against local emulators (fauxqs for S3 and SQS, DynamoDB
 * Local) started once per run by test/support/global-emulators.ts: multipart uploads and
 * the bucket layout, seals larger than one transaction and their roll-forward, many
 * concurrent sealers, SQS batching. What every adapter of a port promises is in
 * test/contracts/, run against these adapters by test/contracts-aws.test.ts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ChecksumMismatchError, sha256Of, type Digest } from '../shared/digest.ts';
import type { BundleRecord, CopyTask } from '../shared/core/ports/index.ts';
import { DynamoExportState, S3ObjectStore, SqsTaskQueue, createTableInput } from '../shared/adapters/aws/index.ts';
import { SequenceConflictError } from '../shared/core/ports/errors.ts';
import { makeDynamoClient, makeS3Client, makeSqsClient } from './support/emulators.ts';
import { entry } from './contracts/export-state.ts';
import { keys } from '../shared/adapters/aws/dynamo-keys.ts';
import { tombstoneFor } from '../shared/core/export/tombstones.ts';

const awsEndpoint = inject('awsEndpoint');
const dynamoEndpoint = inject('dynamoEndpoint');
const MiB = 1024 * 1024;

let s3: S3Client;
let sqs: SQSClient;
let dynamo: DynamoDBDocumentClient;
const table = `ferry-state-${randomUUID()}`;

beforeAll(async () => {
  s3 = makeS3Client(awsEndpoint);
  sqs = makeSqsClient(awsEndpoint);
  dynamo = makeDynamoClient(dynamoEndpoint);
  await dynamo.send(new CreateTableCommand(createTableInput(table)));
});

afterAll(() => {
  s3.destroy();
  sqs.destroy();
  dynamo.destroy();
});

/** Counts calls per command name on a client. */
function countCalls(client: { middlewareStack: { add: (...args: never[]) => void } }): Map<string, number> {
  const counts = new Map<string, number>();
  const add = client.middlewareStack.add as unknown as (
    middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize'; name: string },
  ) => void;
  add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '?';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `count-${randomUUID()}` },
  );
  return counts;
}

async function newStore(): Promise<S3ObjectStore> {
  const bucket = `ferry-${randomUUID().slice(0, 18)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return new S3ObjectStore({ client: s3, bucket, prefix: 'ferry/' });
}

async function keysUnder(store: S3ObjectStore, prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: `${store.prefix}${prefix}` }));
  return (listed.Contents ?? []).map((object) => object.Key ?? '');
}

/** `size` pseudo-random bytes in 1 MiB chunks, hashed as they are produced. */
function generated(size: number): { stream: Readable; digest: () => Digest } {
  const hash = createHash('sha256');
  let hex: string | undefined;
  async function* chunks() {
    for (let sent = 0; sent < size; sent += MiB) {
      const chunk = randomBytes(Math.min(MiB, size - sent));
      hash.update(chunk);
      yield chunk;
    }
    hex = hash.digest('hex');
  }
  return {
    stream: Readable.from(chunks()),
    digest: () => {
      if (hex === undefined) throw new Error('stream not consumed');
      return `sha256:${hex}`;
    },
  };
}

async function sha256OfStream(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

describe('S3ObjectStore', () => {
  it('round-trips a 64 MiB streamed blob through a multipart upload with its sha256 verified', async () => {
    // Prepare
    const store = await newStore();
    const calls = countCalls(s3);
    const content = generated(64 * MiB);

    // Act
    const stored = await store.putBlob(content.stream);
    const blob = await store.getBlob(stored.digest);
    const readBack = await sha256OfStream(await blob.open());

    // Assess
    expect(stored).toEqual({ digest: content.digest(), size: 64 * MiB, existed: false });
    expect(calls.get('UploadPartCommand') ?? 0).toBeGreaterThanOrEqual(8);
    expect(blob.size).toBe(64 * MiB);
    expect(readBack).toBe(content.digest());
    const head = await s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: store.blobKey(stored.digest) }));
    expect(head.Metadata?.sha256).toBe(stored.digest.slice(7));
    expect(await keysUnder(store, 'staging/')).toEqual([]);
    const ranged: Buffer[] = [];
    for await (const chunk of await store.openRange(stored.digest, 10, 19)) ranged.push(chunk as Buffer);
    expect(Buffer.concat(ranged)).toHaveLength(10);
  });

  it('uploads a blob it already holds no more than once, and leaves no staging object', async () => {
    // Prepare
    const store = await newStore();
    const bytes = Buffer.from('the same layer, twice');
    const digest = sha256Of(bytes);
    await store.putBlob(Readable.from([bytes]));
    const calls = countCalls(s3);

    // Act
    const again = await store.putBlob(Readable.from([bytes]));
    const known = await store.putBlob(Readable.from([bytes]), { expectedDigest: digest });

    // Assess
    expect([again.existed, known.existed]).toEqual([true, true]);
    expect((calls.get('PutObjectCommand') ?? 0) + (calls.get('CopyObjectCommand') ?? 0)).toBe(1); // only `again` uploaded
    expect(await keysUnder(store, 'staging/')).toEqual([]);
    expect(await keysUnder(store, 'blobs/')).toEqual([store.blobKey(digest)]);
  });

  it('leaves no blob and no staging object behind when the stream does not match its digest', async () => {
    // Prepare
    const store = await newStore();
    const small = Buffer.from('tampered');
    const large = generated(12 * MiB);
    const wrong = sha256Of('what was announced');

    // Act
    const smallFailure = store.putBlob(Readable.from([small]), { expectedDigest: wrong });
    const largeFailure = store.putBlob(large.stream, { expectedDigest: wrong });

    // Assess
    await expect(smallFailure).rejects.toBeInstanceOf(ChecksumMismatchError);
    await expect(largeFailure).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await store.statBlob(sha256Of(small))).toBeUndefined();
    expect(await store.statBlob(large.digest())).toBeUndefined();
    expect(await keysUnder(store, '')).toEqual([]);
  });

  it('stages bundles as sealed/<name>.<hex>, publishes them to bundles/<name> and leaves neither staging nor sealed objects', async () => {
    // Prepare
    const store = await newStore();
    const digest = sha256Of('manifest 1');
    const bytes = Buffer.concat([Buffer.alloc(6 * MiB, 2), Buffer.from('end')]);
    await store.stageBundle('ferry-0001.tar', sha256Of('crashed manifest'), async (out) => void out.end('orphan'));
    await store.stageBundle('ferry-0001.tar', digest, async (out) => {
      out.write(bytes.subarray(0, 6 * MiB));
      out.end(bytes.subarray(6 * MiB));
    });
    await store
      .stageBundle('ferry-0002.tar', sha256Of('manifest 2'), async (out) => {
        out.write(Buffer.alloc(1024, 1));
        throw new Error('signing failed');
      })
      .catch(() => undefined);
    const sealedBefore = (await keysUnder(store, 'sealed/')).sort();

    // Act
    const published = await store.publishBundle('ferry-0001.tar', digest);

    // Assess
    expect(sealedBefore).toEqual(
      [`ferry/sealed/ferry-0001.tar.${sha256Of('crashed manifest').slice(7)}`, `ferry/sealed/ferry-0001.tar.${digest.slice(7)}`].sort(),
    );
    expect(published).toEqual({ size: bytes.length, location: `s3://${store.bucket}/ferry/bundles/ferry-0001.tar` });
    const body = await s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: 'ferry/bundles/ferry-0001.tar' }));
    expect(await sha256OfStream(body.Body as Readable)).toBe(sha256Of(bytes));
    expect(await keysUnder(store, 'sealed/')).toEqual([]);
    expect(await keysUnder(store, 'staging/')).toEqual([]);
  });

  it('writes a bundle report to bundles/<stem>.html as text/html with its sha256 in x-amz-meta-sha256, as `ferry bundles download` checks', async () => {
    // Prepare
    const store = await newStore();
    const html = '<!doctype html><p>report</p>\n';

    // Act
    const written = await store.putBundleReport('ferry-0001.tar', html);

    // Assess
    expect(written).toEqual({ location: `s3://${store.bucket}/ferry/bundles/ferry-0001.html` });
    const head = await s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: 'ferry/bundles/ferry-0001.html' }));
    expect(head.ContentType).toBe('text/html; charset=utf-8');
    expect(head.Metadata?.sha256).toBe(sha256Of(html).slice(7));
  });
});

function state(sourceId = `source-${randomUUID()}`, client = dynamo): DynamoExportState {
  return new DynamoExportState({ client, table, sourceId });
}


function bundle(sourceId: string, sequence: number): BundleRecord {
  return {
    sourceId,
    sequence,
    digest: sha256Of(`bundle ${sequence} ${randomUUID()}`),
    name: `ferry-${sequence}.tar`,
    size: 1000 + sequence,
    sealedAt: new Date().toISOString(),
    published: false,
  };
}

describe('DynamoExportState', () => {
  it('numbers 20 concurrent seals 1 to 20 with no gap and no duplicate', async () => {
    // Prepare
    const sourceId = `source-${randomUUID()}`;
    const exporter = state(sourceId);
    for (let i = 0; i < 40; i++) await exporter.addPendingEntry(entry(`/f/${i}`, `content ${i}`));
    const pending = await exporter.listPendingEntries();
    const conflicts: number[] = [];

    // Act: each sealer seals its own two entries, retrying with the next number on a conflict.
    const sealed = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const seqs = pending.slice(2 * i, 2 * i + 2).map((e) => e.seq);
        for (;;) {
          const last = await exporter.getLastBundle(sourceId);
          const record = bundle(sourceId, (last?.sequence ?? 0) + 1);
          try {
            await exporter.recordSeal(record, seqs, [sha256Of(`blob ${i}`)]);
            return record.sequence;
          } catch (error) {
            if (!(error instanceof SequenceConflictError)) throw error;
            conflicts.push(error.got);
          }
        }
      }),
    );

    // Assess
    expect([...sealed].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(conflicts.length).toBeGreaterThan(0);
    expect((await exporter.getLastBundle(sourceId))?.sequence).toBe(20);
    expect(await exporter.listPendingEntries()).toEqual([]);
    expect(await exporter.shippedIn(sha256Of('blob 7'))).toBeGreaterThanOrEqual(1);
  });

  it('seals more entries and blobs than one transaction holds', async () => {
    // Prepare
    const sourceId = `source-${randomUUID()}`;
    const exporter = state(sourceId);
    for (let i = 0; i < 150; i++) await exporter.addPendingEntry(entry(`/big/${i}`, `big ${i}`));
    const seqs = (await exporter.listPendingEntries()).map((e) => e.seq);
    const blobs = Array.from({ length: 60 }, (_, i) => sha256Of(`big blob ${i}`));
    await exporter.recordHeldBlobs([blobs[0] as Digest], 0);

    // Act
    await exporter.recordSeal(bundle(sourceId, 1), seqs, blobs);

    // Assess
    expect(await exporter.listPendingEntries()).toEqual([]);
    expect(await exporter.shippedIn(blobs[0] as Digest)).toBe(0);
    expect(await exporter.shippedIn(blobs[59] as Digest)).toBe(1);
    expect((await exporter.getLastBundle(sourceId))?.sequence).toBe(1);
    const leftovers = await dynamo.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk > :after',
        ExpressionAttributeValues: { ':pk': `SOURCE#${sourceId}`, ':after': 'J' },
      }),
    );
    expect((leftovers.Items ?? []).map((item) => item.sk).filter((sk) => /^(JOURNAL|ROLLFORWARD)#/.test(String(sk)))).toEqual([]);
  });

  it('finishes a large seal that committed but crashed before applying its entries', async () => {
    // Prepare: a client whose first entry update after the commit fails, as a crash would.
    const sourceId = `source-${randomUUID()}`;
    const crashing = makeDynamoClient(dynamoEndpoint);
    let armed = false;
    let committed = false;
    let crashed = false;
    crashing.middlewareStack.add(
      (next, context) => async (args) => {
        if (committed && !crashed && /^Update/.test(context.commandName ?? '')) {
          crashed = true;
          throw new Error('process killed');
        }
        const result = await next(args);
        if (armed && /^TransactWrite/.test(context.commandName ?? '')) committed = true;
        return result;
      },
      { step: 'initialize', name: 'crash-after-commit' },
    );
    const exporter = state(sourceId, crashing);
    for (let i = 0; i < 120; i++) await exporter.addPendingEntry(entry(`/crash/${i}`, `crash ${i}`));
    const seqs = (await exporter.listPendingEntries()).map((e) => e.seq);
    armed = true;

    // Act
    await expect(exporter.recordSeal(bundle(sourceId, 1), seqs, [sha256Of('crash blob')])).rejects.toThrow('process killed');
    const after = state(sourceId);
    const pending = await after.listPendingEntries();

    // Assess
    expect(crashed).toBe(true);
    expect((await after.getLastBundle(sourceId))?.sequence).toBe(1);
    expect(pending).toEqual([]);
    expect(await after.shippedIn(sha256Of('crash blob'))).toBe(1);
    crashing.destroy();
  });

  it('reads ASSET items written before they named their kind: a tombstone recorded then still counts', async () => {
    // Prepare: v1 and its tombstone recorded, then their ASSET items stripped of `kind` as the earlier code wrote them
    const exporter = state(`source-${randomUUID()}`);
    const v1 = entry('/old.jar', 'v1');
    await exporter.addPendingEntry(v1);
    await exporter.addPendingEntry(tombstoneFor(v1));
    const assets = await dynamo.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.assetPk(exporter.sourceId, 'raw-src', '/old.jar') } }),
    );
    for (const item of assets.Items ?? []) {
      await dynamo.send(new UpdateCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk }, UpdateExpression: 'REMOVE kind' }));
    }

    // Act
    const known = await exporter.hasEntry('raw-src', '/old.jar', { sha256: v1.digest.slice(7) });
    const tombstoneAgain = await exporter.addPendingEntry(tombstoneFor(v1));
    const latest = await exporter.latestEntries('raw-src', '/old.jar', { prefix: false });
    const stagedAgain = await exporter.addPendingEntry(v1);

    // Assess
    expect(assets.Items).toHaveLength(2);
    expect({ known, tombstoneAgain, latest, stagedAgain }).toEqual({ known: false, tombstoneAgain: false, latest: [v1], stagedAgain: true });
  });
});

describe('SqsTaskQueue', () => {
  it('sends 25 tasks as exactly 3 SendMessageBatch calls', async () => {
    // Prepare
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `ferry-tasks-${randomUUID()}` }));
    const queueUrl = created.QueueUrl as string;
    const calls = countCalls(sqs);
    const tasks: CopyTask[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'raw',
      id: `task/${i} ✓`,
      sourceRepository: 'raw-src',
      path: `/files/${i}.bin`,
      targetRepository: 'raw-dst',
      checksums: { sha1: createHash('sha1').update(String(i)).digest('hex') },
      size: i,
    }));

    // Act
    await new SqsTaskQueue({ client: sqs, queueUrl }).enqueue(tasks);

    // Assess
    expect(calls.get('SendMessageBatchCommand')).toBe(3);
  });
});
