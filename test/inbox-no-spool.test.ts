/**
 * The import function's core path (`importFromInbox` over the S3 inbox, the real importer,
 * the held bucket on fauxqs, the import table on DynamoDB Local, the target Nexus stand-in)
 * on a local disk that refuses to spool (test/support/refusing-disk.ts): every write through
 * node:fs fails and `statfs` reports less free space than the bundle. The bundle is bigger
 * than that "spool limit" and still imports, read from S3 in ranges pinned to its ETag.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type GetObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { DynamoImportState, createImportTableInput } from '../shared/adapters/aws/dynamo-import-state.ts';
import { S3BundleInbox } from '../shared/adapters/aws/s3-inbox.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { NexusClient } from '../shared/adapters/nexus/client.ts';
import { makeImporter } from '../shared/core/import/importer.ts';
import { importFromInbox } from '../shared/core/import/inbox.ts';
import { silentLog } from '../shared/core/log.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import { writeFileStream } from '../shared/file-streams.ts';
import { loadPublicKey } from '../shared/signing.ts';
import { makeDynamoClient, makeS3Client } from './support/emulators.ts';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';

const disk = vi.hoisted(() => ({ refusing: false, elsewhere: [] as string[], freeBytes: 0, refused: [] as string[] }));
vi.mock('node:fs', async (original) => (await import('./support/refusing-disk.ts')).refusingFs(await original<Record<string, unknown>>(), disk, false));
vi.mock('node:fs/promises', async (original) => (await import('./support/refusing-disk.ts')).refusingFs(await original<Record<string, unknown>>(), disk, true));

const MiB = 2 ** 20;
/** The local storage a spool would have had: the bundle below is three times as big. */
const SPOOL_LIMIT = 1 * MiB;
/** The target stand-in's user in test/support/world.ts. */
const TARGET_USER = { username: 'ferry-writer', password: 'target-pa55' };

let s3: S3Client;
let documents: DynamoDBDocumentClient;
let world: World | undefined;
let targetDataDir: string | undefined;

beforeAll(() => {
  s3 = makeS3Client(inject('awsEndpoint'));
  documents = makeDynamoClient(inject('dynamoEndpoint'));
});
afterAll(() => {
  s3.destroy();
  documents.destroy();
});
afterEach(async () => {
  disk.refusing = false;
  disk.refused.length = 0;
  disk.elsewhere.length = 0;
  await world?.close();
  world = undefined;
  if (targetDataDir !== undefined) await rm(targetDataDir, { recursive: true, force: true });
  targetDataDir = undefined;
});

/** The GetObject requests a client sends, as asked. */
function recordGets(client: S3Client): GetObjectCommandInput[] {
  const gets: GetObjectCommandInput[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') gets.push({ ...(args.input as GetObjectCommandInput) });
      return next(args);
    },
    { step: 'initialize', name: 'recordGets' },
  );
  return gets;
}

/** A fresh inbox bucket, held bucket and import table; the exported bundle uploaded to the inbox. */
async function isolatedSide(bundleFile: string) {
  const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const names = { inbox: `ferry-inbox-${suffix}`, held: `ferry-held-${suffix}`, table: `ferry-import-${suffix}` };
  await s3.send(new CreateBucketCommand({ Bucket: names.inbox }));
  await s3.send(new CreateBucketCommand({ Bucket: names.held }));
  await documents.send(new CreateTableCommand(createImportTableInput(names.table)));
  const key = `bundles/${path.basename(bundleFile)}`;
  await s3.send(new PutObjectCommand({ Bucket: names.inbox, Key: key, Body: await readFile(bundleFile) }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: names.inbox, Key: key }));
  return { ...names, key, etag: head.ETag!, size: head.ContentLength! };
}

describe('importing from the S3 inbox with no local storage to spool to', () => {
  it('imports a bundle three times the spool limit, reading it in ranges pinned to its ETag, with every disk write refused', async () => {
    // Prepare: one 3 MiB artifact sealed into a bundle by the real CLI, uploaded to the inbox;
    // the target Nexus (a stand-in in this process) keeps its own disk
    targetDataDir = await mkdtemp(path.join(tmpdir(), 'ferry-target-nexus-'));
    world = await makeWorld({ repositories: ['raw-a'], target: { dataDir: targetDataDir } });
    const artifact = content('no-spool', 3 * MiB);
    world.source.putRawAsset('raw-a', '/big/tool.bin', artifact);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [bundleFile] = await bundles(world);
    const side = await isolatedSide(bundleFile!);
    const importer = makeImporter(
      {
        target: new NexusClient({ baseUrl: world.target.url, ...TARGET_USER }),
        held: new S3ObjectStore({ client: s3, bucket: side.held }),
        state: new DynamoImportState({ client: documents, table: side.table }),
        clock: systemClock,
        log: silentLog,
        trustedKeys: [await loadPublicKey(world.publicKeyFile)],
      },
      { repositoryMap: {}, concurrency: 4 },
    );
    const inboxClient = makeS3Client(inject('awsEndpoint'));
    const gets = recordGets(inboxClient);
    const inbox = new S3BundleInbox({ client: inboxClient, bucket: side.inbox, receiptsPrefix: 'receipts/', readRangeBytes: SPOOL_LIMIT / 4 });
    disk.elsewhere.push(targetDataDir);
    disk.freeBytes = SPOOL_LIMIT;
    disk.refusing = true;
    // The fake is in force for Ferry's own modules: a spool write fails before a byte lands.
    expect(() => writeFileStream(path.join(tmpdir(), 'spool-probe'))).toThrow(/ENOSPC/);
    disk.refused.length = 0;

    // Act
    const done = await importFromInbox({ importer, inbox, log: silentLog }, side.key).finally(() => inboxClient.destroy());

    // Assess
    expect(side.size).toBeGreaterThan(3 * SPOOL_LIMIT);
    expect(done).toEqual([{ key: side.key, report: expect.objectContaining({ status: 'imported', imported: 1 }), receipt: expect.objectContaining({ key: `receipts/${path.basename(bundleFile!, '.tar')}.receipt.json` }) }]);
    expect(world.target.getAsset('raw-a', '/big/tool.bin')?.content.equals(artifact)).toBe(true);
    expect(disk.refused).toEqual([]);
    const bundleGets = gets.filter((g) => g.Key === side.key);
    expect(bundleGets.length).toBeGreaterThanOrEqual(4);
    for (const get of bundleGets) {
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(get.Range ?? '') ?? [];
      expect(get.IfMatch).toBe(side.etag);
      expect(Number(to) - Number(from) + 1).toBeLessThanOrEqual(SPOOL_LIMIT / 4);
    }
  }, 60_000);
});
