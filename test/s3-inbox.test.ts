/**
 * The bundle inbox port: its S3 adapter against the S3 emulator (fauxqs, started once per
 * run by test/support/global-emulators.ts) — reads in ranges pinned to the bundle's ETag —
 * and `importFromInbox` (and `importGapFromInbox`, asked for by ops) over it with a scripted
 * importer: which bundles it imports together, which documents it leaves in the inbox. A connection that breaks off mid-body, which the
 * emulator cannot produce, is mocked (aws-sdk-client-mock).
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandInput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { MAX_RESUMES } from '../shared/adapters/aws/s3-ranged-read.ts';
import { S3BundleInbox } from '../shared/adapters/aws/s3-inbox.ts';
import { BundleRefusedError, MissingPartError, SequenceError } from '../shared/core/import/errors.ts';
import type { BundleInput, Importer, ImportReport } from '../shared/core/import/importer.ts';
import { silentLog } from '../shared/core/log.ts';
import { importFromInbox, importGapFromInbox } from '../shared/core/import/inbox.ts';
import { decodeFarSideDocument, type Receipt, type ResendRequestDocument } from '../shared/core/receipts/codec.ts';
import { makeS3Client } from './support/emulators.ts';

let s3: S3Client;
let bucket: string;
let inbox: S3BundleInbox;
/** The GetObject requests of `inbox`, as sent. */
let gets: GetObjectCommandInput[];

beforeAll(() => {
  s3 = makeS3Client(inject('awsEndpoint'));
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') gets.push({ ...(args.input as GetObjectCommandInput) });
      return next(args);
    },
    { step: 'initialize', name: 'recordGets' },
  );
});
afterAll(() => s3.destroy());

beforeEach(async () => {
  bucket = `ferry-inbox-${randomUUID().slice(0, 18)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // Ranges of 4 bytes: even these short bundles are read in several requests.
  inbox = new S3BundleInbox({ client: s3, bucket, receiptsPrefix: 'receipts/', readRangeBytes: 4 });
  gets = [];
});

const drop = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const object = async (key: string) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
const exists = (key: string) => object(key).then(() => true, () => false);
const etagOf = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag!;

describe('S3 bundle inbox', () => {
  it('reads a bundle whole as often as asked and in parts, every request a range pinned to the ETag it was opened with', async () => {
    // Prepare
    await drop('bundles/src-00000001.tar', 'bundle one bytes');
    const etag = await etagOf('bundles/src-00000001.tar');

    // Act
    const bundle = await inbox.open('bundles/src-00000001.tar');
    const reads = [await text(await bundle.open()), await text(await bundle.open())];
    const parts = [await text(await bundle.openRange(7, 3)), await text(await bundle.openRange(0, 16)), await text(await bundle.openRange(16, 0))];
    await bundle.close();

    // Assess
    expect(bundle).toMatchObject({ name: 'src-00000001.tar', key: 'bundles/src-00000001.tar', size: 16 });
    expect(reads).toEqual(['bundle one bytes', 'bundle one bytes']);
    expect(parts).toEqual(['one', 'bundle one bytes', '']);
    const whole = ['bytes=0-3', 'bytes=4-7', 'bytes=8-11', 'bytes=12-15'];
    expect(gets.map((g) => g.Range)).toEqual([...whole, ...whole, 'bytes=7-9', ...whole]);
    expect(new Set(gets.map((g) => g.IfMatch))).toEqual(new Set([etag]));
  });

  it('refuses a part outside the bundle, naming its S3 location, without asking S3', async () => {
    // Prepare
    await drop('bundles/src-00000001.tar', 'sixteen bytes...');
    const bundle = await inbox.open('bundles/src-00000001.tar');

    // Act
    const reading = bundle.openRange(10, 7);

    // Assess
    await expect(reading).rejects.toMatchObject({ name: 'ObjectStoreError', message: expect.stringContaining(`s3://${bucket}/bundles/src-00000001.tar`) });
    expect(gets).toEqual([]);
  });

  it('fails to open a bundle that is not there naming its S3 location', async () => {
    // Act
    const opening = inbox.open('bundles/src-00000009.tar');

    // Assess
    await expect(opening).rejects.toMatchObject({ name: 'ObjectStoreError', message: expect.stringContaining(`s3://${bucket}/bundles/src-00000009.tar`) });
  });

  it('refuses every read of a bundle replaced or deleted since it was opened, naming it', async () => {
    // Prepare
    await drop('bundles/src-00000001.tar', 'first upload....');
    await drop('bundles/src-00000002.tar', 'second bundle...');
    const replaced = await inbox.open('bundles/src-00000001.tar');
    const deleted = await inbox.open('bundles/src-00000002.tar');
    await drop('bundles/src-00000001.tar', 'second upload...');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'bundles/src-00000002.tar' }));

    // Act: all four at once, settled together (awaiting them one by one leaves a rejection unhandled meanwhile)
    const reads = await Promise.allSettled([replaced.open(), replaced.openRange(4, 8), deleted.open(), deleted.openRange(0, 4)]);

    // Assess
    const changed = (key: string, how: string) => ({
      status: 'rejected',
      reason: expect.objectContaining({ name: 'BundleChangedError', message: expect.stringMatching(new RegExp(`^s3://${bucket}/${key} was ${how} while it was being read`)) }),
    });
    expect(reads).toEqual([
      changed('bundles/src-00000001.tar', 'replaced'),
      changed('bundles/src-00000001.tar', 'replaced'),
      changed('bundles/src-00000002.tar', 'deleted'),
      changed('bundles/src-00000002.tar', 'deleted'),
    ]);
  });

  it('stops a whole read under way when the bundle is replaced between two of its ranges, having read only the first upload', async () => {
    // Prepare: 64 ranges of 16 KiB; the stream reads ahead far less than that
    const first = Buffer.alloc(1024 * 1024, 'a');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bundles/src-00000001.tar', Body: first }));
    const bundle = await new S3BundleInbox({ client: s3, bucket, receiptsPrefix: 'receipts/', readRangeBytes: 16 * 1024 }).open('bundles/src-00000001.tar');
    const stream = await bundle.open();
    const chunks = stream[Symbol.asyncIterator]();
    const seen = [((await chunks.next()).value as Buffer).toString('latin1')];
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bundles/src-00000001.tar', Body: Buffer.alloc(1024 * 1024, 'b') }));

    // Act
    const draining = (async () => {
      for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) seen.push((next.value as Buffer).toString('latin1'));
    })();

    // Assess
    await expect(draining).rejects.toMatchObject({ name: 'BundleChangedError' });
    const read = seen.join('');
    expect(read.length).toBeLessThan(first.length);
    expect(read).toMatch(/^a+$/);
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

describe('S3 bundle inbox on a connection that breaks off (mocked client)', () => {
  const ETAG = '"0123456789abcdef"';

  /** A body that delivers `bytes`, then fails as a reset socket does. */
  const breaksOffAfter = (bytes: string) =>
    Readable.from(
      (async function* () {
        yield Buffer.from(bytes);
        throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      })(),
      { objectMode: false },
    );

  function mockedInbox(size: number) {
    const client = new S3Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(HeadObjectCommand).resolves({ ETag: ETAG, ContentLength: size });
    return { mock, inbox: new S3BundleInbox({ client, bucket: 'inbox', receiptsPrefix: 'receipts/', readRangeBytes: 8 }) };
  }

  it('resumes a read from the first byte not received, with the same ETag, when the body breaks off', async () => {
    // Prepare: 12 bytes in ranges of 8; the first body breaks off after 3 bytes
    const { mock, inbox } = mockedInbox(12);
    mock
      .on(GetObjectCommand)
      .resolvesOnce({ Body: breaksOffAfter('abc') as never })
      .resolvesOnce({ Body: Readable.from([Buffer.from('defgh')]) as never })
      .resolvesOnce({ Body: Readable.from([Buffer.from('ijkl')]) as never });

    // Act
    const read = await text(await (await inbox.open('bundles/src-00000001.tar')).open());

    // Assess
    expect(read).toBe('abcdefghijkl');
    expect(mock.commandCalls(GetObjectCommand).map((c) => [c.args[0].input.Range, c.args[0].input.IfMatch])).toEqual([
      ['bytes=0-7', ETAG],
      ['bytes=3-7', ETAG],
      ['bytes=8-11', ETAG],
    ]);
  });

  it(`fails the read naming the bundle once one range has broken off ${MAX_RESUMES + 1} times`, async () => {
    // Prepare
    const { mock, inbox } = mockedInbox(12);
    mock.on(GetObjectCommand).callsFake(() => ({ Body: breaksOffAfter('') }));
    const stream = await (await inbox.open('bundles/src-00000001.tar')).open();

    // Act
    const reading = text(stream);

    // Assess
    await expect(reading).rejects.toMatchObject({ name: 'ObjectStoreError', message: expect.stringContaining('s3://inbox/bundles/src-00000001.tar') });
    expect(mock.commandCalls(GetObjectCommand)).toHaveLength(MAX_RESUMES + 1);
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
  });

  it('fails, writing no receipt, when the bundle is replaced between its verify read and a ranged read of its blobs', async () => {
    // Prepare: the importer reads the whole bundle, then (another upload lands) a part of it
    await drop('bundles/src-00000001.tar', 'verified bytes..');
    const importer: Importer = {
      verify: async () => [],
      importBundles: async ([input]) => {
        await text(await input!.open());
        await drop('bundles/src-00000001.tar', 'another upload..');
        await text(await input!.openRange!(0, 8));
        return [imported(input!.name, 1)];
      },
    };

    // Act
    const importing = importFromInbox({ importer, inbox, log: silentLog }, 'bundles/src-00000001.tar');

    // Assess
    await expect(importing).rejects.toMatchObject({ name: 'BundleChangedError', message: expect.stringContaining(`s3://${bucket}/bundles/src-00000001.tar was replaced`) });
    expect(await exists('receipts/src-00000001.receipt.json')).toBe(false);
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
  });
});

describe('importGapFromInbox', () => {
  it('imports the bundles named together, allowing a gap, and leaves a resend request for each bundle a refusal names', async () => {
    // Prepare: 3 and 4 in the inbox (2 lost); the importer refuses unless asked to allow the gap, then for parts of two blobs
    for (const n of [3, 4]) await drop(`bundles/src-0000000${n}.tar`, `bytes of ${n}`);
    const request = (sequence: number): ResendRequestDocument => ({
      format: 'ferry.resend-request.v1',
      sourceId: 'src',
      bundle: { name: `src-0000000${sequence}.tar`, digest: `sha256:${String(sequence).repeat(64)}`, sequence },
      requestedAt: '2025-01-15T10:20:30.000Z',
      missing: [{ digest: `sha256:${'e'.repeat(63)}${sequence}`, size: 10, shippedIn: sequence, neededBy: [] }],
    });
    const part = (sequence: number) => ({ where: `src-0000000${sequence}.tar`, part: { blob: `sha256:${'e'.repeat(63)}${sequence}` as const, offset: 0, length: 5, digest: `sha256:${'f'.repeat(64)}` as const, shippedIn: 2 }, carrier: 'src-00000002.tar' });
    const calls: { names: string[]; allowGap: boolean | undefined }[] = [];
    let refuse = false;
    const importer: Importer = {
      verify: async () => [],
      importBundles: async (inputs, options) => {
        calls.push({ names: inputs.map((i) => i.name), allowGap: options?.allowGap });
        if (options?.allowGap !== true) throw needsSequence(2);
        if (refuse) throw new MissingPartError([part(3), part(4)], [3, 4].map((n) => ({ bundle: `src-0000000${n}.tar`, request: request(n) })));
        return inputs.map((i, k) => imported(i.name, k + 3));
      },
    };
    const keys = ['bundles/src-00000003.tar', 'bundles/src-00000004.tar'];

    // Act
    const done = await importGapFromInbox({ importer, inbox, log: silentLog }, keys);
    refuse = true;
    const refusing = importGapFromInbox({ importer, inbox, log: silentLog }, keys);

    // Assess
    expect(calls[0]).toEqual({ names: ['src-00000003.tar', 'src-00000004.tar'], allowGap: true });
    expect(done.map((d) => d.receipt?.key)).toEqual(['receipts/src-00000003.receipt.json', 'receipts/src-00000004.receipt.json']);
    await expect(refusing).rejects.toBeInstanceOf(MissingPartError);
    for (const n of [3, 4]) {
      const written = decodeFarSideDocument(await (await object(`receipts/src-0000000${n}.resend-request.json`)).Body!.transformToString(), 'resend request');
      expect(written).toEqual({ kind: 'resend-request', request: request(n) });
    }
  });
});

