/**
 * The bundle inbox port: its S3 adapter against the S3 emulator (fauxqs, started once per
 * run by test/support/global-emulators.ts), and `importFromInbox` over it with a scripted
 * importer: which bundles it imports together, which documents it leaves in the inbox.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { S3BundleInbox } from '../shared/adapters/aws/s3-inbox.ts';
import { BundleRefusedError, SequenceError } from '../shared/core/import/errors.ts';
import type { BundleInput, Importer, ImportReport } from '../shared/core/import/importer.ts';
import { silentLog } from '../shared/core/log.ts';
import { importFromInbox } from '../shared/core/import/inbox.ts';
import { decodeFarSideDocument, type Receipt, type ResendRequestDocument } from '../shared/core/receipts/codec.ts';
import { makeS3Client } from './support/emulators.ts';

let s3: S3Client;
let bucket: string;
let spool: string;
let inbox: S3BundleInbox;

beforeAll(() => {
  s3 = makeS3Client(inject('awsEndpoint'));
});
afterAll(() => s3.destroy());

beforeEach(async () => {
  bucket = `ferry-inbox-${randomUUID().slice(0, 18)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  spool = await mkdtemp(path.join(tmpdir(), 'ferry-inbox-test-'));
  inbox = new S3BundleInbox({ client: s3, bucket, receiptsPrefix: 'receipts/', spoolDir: spool });
});
afterEach(() => rm(spool, { recursive: true, force: true }));

const drop = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const object = async (key: string) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
const exists = (key: string) => object(key).then(() => true, () => false);
const spooled = () => readdir(spool);

describe('S3 bundle inbox', () => {
  it('opens a bundle that reads the same bytes as often as asked, and close removes its spooled copy', async () => {
    // Prepare
    await drop('bundles/src-00000001.tar', 'bundle one bytes');

    // Act
    const bundle = await inbox.open('bundles/src-00000001.tar');
    const reads = [await text(await bundle.open()), await text(await bundle.open())];
    const whileOpen = await spooled();
    await bundle.close();

    // Assess
    expect(bundle).toMatchObject({ name: 'src-00000001.tar', key: 'bundles/src-00000001.tar' });
    expect(reads).toEqual(['bundle one bytes', 'bundle one bytes']);
    expect(whileOpen).toHaveLength(1);
    expect(await spooled()).toEqual([]);
  });

  it('fails to open a bundle that is not there naming its S3 location, and leaves nothing spooled', async () => {
    // Act
    const opening = inbox.open('bundles/src-00000009.tar');

    // Assess
    await expect(opening).rejects.toMatchObject({ name: 'ObjectStoreError', message: expect.stringContaining(`s3://${bucket}/bundles/src-00000009.tar`) });
    expect(await spooled()).toEqual([]);
  });

  it('finds the bundles named beside the arrival only when every one of them is waiting', async () => {
    // Prepare
    await drop('bundles/src-00000001.tar', '1');
    await drop('bundles/src-00000002.tar', '2');
    await drop('elsewhere/src-00000003.tar', '3');

    // Act
    const all = await inbox.waiting(['src-00000001.tar', 'src-00000002.tar'], 'bundles/src-00000004.tar');
    const oneMissing = await inbox.waiting(['src-00000002.tar', 'src-00000003.tar'], 'bundles/src-00000004.tar');

    // Assess
    expect(all).toEqual(['bundles/src-00000001.tar', 'bundles/src-00000002.tar']);
    expect(oneMissing).toBeUndefined();
  });

  it('puts a document under the receipts prefix as JSON and says where it is', async () => {
    // Act
    const written = await inbox.put('src-00000001.receipt.json', '{"payload":"{}","signature":null}\n');

    // Assess
    expect(written).toEqual({ key: 'receipts/src-00000001.receipt.json', location: `s3://${bucket}/receipts/src-00000001.receipt.json` });
    const got = await object(written.key);
    expect(got.ContentType).toBe('application/json');
    expect(await got.Body!.transformToString()).toBe('{"payload":"{}","signature":null}\n');
  });
});

// ───────────────────────────── importFromInbox ─────────────────────────────

/** A receipt is only carried through: the importer's own tests say what it holds. */
const receiptOf = (name: string) => ({ format: 'ferry.receipt.v1', bundle: { name } }) as unknown as Receipt;

function imported(name: string, sequence: number): ImportReport {
  return { status: 'imported', bundle: { name, sourceId: 'src', sequence, digest: `sha256:${'a'.repeat(64)}` }, imported: 1, present: 0, receipt: receiptOf(name), gap: false };
}

/** An importer that reads every bundle it is given, records the batch, and answers as `script` says. */
function scriptedImporter(script: (names: string[]) => ImportReport[]): Importer & { batches: { name: string; bytes: string }[][] } {
  const batches: { name: string; bytes: string }[][] = [];
  return {
    batches,
    verify: async () => [],
    importBundles: async (inputs: BundleInput[]) => {
      batches.push(await Promise.all(inputs.map(async (i) => ({ name: i.name, bytes: await text(await i.open()) }))));
      return script(inputs.map((i) => i.name));
    },
  };
}

const needsSequence = (from: number) => new SequenceError(`src-00000003.tar: sequence 3 of src needs sequence ${from} first`, from);

describe('importFromInbox', () => {
  it('imports the arrival and writes its receipt; a bundle imported before gets none', async () => {
    // Prepare
    await drop('bundles/src-00000001.tar', 'one');
    await drop('bundles/src-00000002.tar', 'two');
    const importer = scriptedImporter(([name]) =>
      name === 'src-00000001.tar' ? [{ status: 'already-imported', bundle: { name, sourceId: 'src', sequence: 1, digest: `sha256:${'b'.repeat(64)}` }, importedAt: '2025-01-15T10:20:30.000Z' }] : [imported(name!, 2)],
    );

    // Act
    const again = await importFromInbox({ importer, inbox, log: silentLog }, 'bundles/src-00000001.tar');
    const next = await importFromInbox({ importer, inbox, log: silentLog }, 'bundles/src-00000002.tar');

    // Assess
    expect(again).toEqual([{ key: 'bundles/src-00000001.tar', report: expect.objectContaining({ status: 'already-imported' }) }]);
    expect(next).toEqual([{ key: 'bundles/src-00000002.tar', report: expect.objectContaining({ status: 'imported' }), receipt: { key: 'receipts/src-00000002.receipt.json', location: `s3://${bucket}/receipts/src-00000002.receipt.json` } }]);
    expect(await exists('receipts/src-00000001.receipt.json')).toBe(false);
    const file = JSON.parse(await (await object('receipts/src-00000002.receipt.json')).Body!.transformToString()) as { payload: string; signature: unknown };
    expect({ ...file, payload: JSON.parse(file.payload) }).toEqual({ payload: receiptOf('src-00000002.tar'), signature: null });
    expect(await spooled()).toEqual([]);
  });

  it('imports the arrival together with the earlier bundles of its chain waiting in the inbox, in order', async () => {
    // Prepare: the importer wants sequence 1 first when given 3 alone
    for (const n of [1, 2, 3]) await drop(`bundles/src-0000000${n}.tar`, `bytes of ${n}`);
    const importer = scriptedImporter((names) => {
      if (names.length === 1) throw needsSequence(1);
      return names.map((name, i) => imported(name, i + 1));
    });

    // Act
    const done = await importFromInbox({ importer, inbox, log: silentLog }, 'bundles/src-00000003.tar');

    // Assess
    expect(importer.batches).toEqual([
      [{ name: 'src-00000003.tar', bytes: 'bytes of 3' }],
      [
        { name: 'src-00000001.tar', bytes: 'bytes of 1' },
        { name: 'src-00000002.tar', bytes: 'bytes of 2' },
        { name: 'src-00000003.tar', bytes: 'bytes of 3' },
      ],
    ]);
    expect(done.map((d) => [d.key, d.receipt?.key])).toEqual([
      ['bundles/src-00000001.tar', 'receipts/src-00000001.receipt.json'],
      ['bundles/src-00000002.tar', 'receipts/src-00000002.receipt.json'],
      ['bundles/src-00000003.tar', 'receipts/src-00000003.receipt.json'],
    ]);
    expect(await spooled()).toEqual([]);
  });

  it('gives up with the chain error, writing nothing, when an earlier bundle is not waiting', async () => {
    // Prepare: sequence 2 is missing from the inbox
    await drop('bundles/src-00000001.tar', '1');
    await drop('bundles/src-00000003.tar', '3');
    const importer = scriptedImporter(() => {
      throw needsSequence(1);
    });

    // Act
    const importing = importFromInbox({ importer, inbox, log: silentLog }, 'bundles/src-00000003.tar');

    // Assess
    await expect(importing).rejects.toBeInstanceOf(SequenceError);
    expect(importer.batches).toHaveLength(1);
    expect(await exists('receipts/src-00000003.receipt.json')).toBe(false);
    expect(await spooled()).toEqual([]);
  });

  it('leaves the resend request of a bundle refused for want of blobs in the inbox, then throws the refusal', async () => {
    // Prepare
    await drop('bundles/src-00000002.tar', '2');
    const digest = `sha256:${'c'.repeat(64)}` as const;
    const request: ResendRequestDocument = {
      format: 'ferry.resend-request.v1',
      sourceId: 'src',
      bundle: { name: 'src-00000002.tar', digest: `sha256:${'d'.repeat(64)}`, sequence: 2 },
      requestedAt: '2025-01-15T10:20:30.000Z',
      missing: [{ digest, size: 10, shippedIn: 1, neededBy: [{ index: 0, source: { repository: 'raw-a', path: '/x.bin' } }] }],
    };
    const refusal = new BundleRefusedError('src-00000002.tar', [], [{ digest, size: 10, shippedIn: 1, neededBy: [{ index: 0, entry: 'raw-a/x.bin' }] }], request);
    const importer = scriptedImporter(() => {
      throw refusal;
    });

    // Act
    const importing = importFromInbox({ importer, inbox, log: silentLog }, 'bundles/src-00000002.tar');

    // Assess
    await expect(importing).rejects.toBe(refusal);
    const written = decodeFarSideDocument(await (await object('receipts/src-00000002.resend-request.json')).Body!.transformToString(), 'resend request');
    expect(written).toEqual({ kind: 'resend-request', request });
    expect(await spooled()).toEqual([]);
  });
});
