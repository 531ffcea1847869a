/**
 * One sequence, one bundle: the exporter is killed (SIGKILL, a real child process) at every
 * step of a seal, then run again. Whatever reached the outbox before the kill — what ops
 * may already have carried — keeps its exact bytes, and the whole chain imports in order
 * into a fresh target with no refusal.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTableInput, DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { S3ObjectStore } from '../shared/adapters/aws/s3-object-store.ts';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { SEAL_FAULT_POINTS } from '../shared/core/export/seal.ts';
import { makeDynamoClient, makeS3Client } from './support/emulators.ts';
import { content, makeWorld, REPO_ROOT, runFerry, type FerryRun, type World } from './support/world.ts';

const SEAL_CHILD = path.join(REPO_ROOT, 'test/support/seal-child.ts');

/** Runs a script on the test runner's own Node (24) and collects its outcome. */
function runNode(script: string, env: NodeJS.ProcessEnv): Promise<FerryRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function outbox(world: World): Promise<Map<string, string>> {
  const files = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar')).sort();
  const hashes = new Map<string, string>();
  for (const file of files) hashes.set(file, createHash('sha256').update(await readFile(path.join(world.bundlesDir, file))).digest('hex'));
  return hashes;
}

describe('a seal killed at any step (SIGKILL), then run again', () => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it.each(SEAL_FAULT_POINTS)('keeps one digest per sequence when killed at %s, and the chain imports whole', async (point) => {
    // Prepare: bundle 1 sealed normally, then three new artifacts for bundle 2
    world = await makeWorld();
    const first = ['/a/1.bin', '/a/2.bin', '/a/3.bin'];
    const second = ['/b/4.bin', '/b/5.bin', '/b/6.bin'];
    for (const p of first) world.source.putRawAsset('raw-a', p, content(p, 5000));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    for (const p of second) world.source.putRawAsset('raw-a', p, content(p, 5000));

    // Act: killed at the point, then run again without the fault
    const killed = await runFerry(['export', '--once', '--config', world.exportConfig], { ...world.env, FERRY_FAULT_POINT: point });
    const carried = await outbox(world);
    const rerun = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const after = await outbox(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...[...after.keys()].map((f) => path.join(world!.bundlesDir, f))], world.env);

    // Assess
    expect(killed.signal).toBe('SIGKILL');
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const [file, hash] of carried) expect(after.get(file), `${file} changed after the re-run`).toBe(hash);
    expect([...after.keys()]).toEqual(['test-source-00000001.tar', 'test-source-00000002.tar']);
    // Reports are derived: whatever the kill left out, the re-run wrote.
    for (const report of ['test-source-00000001.html', 'test-source-00000002.html']) expect((await stat(path.join(world.bundlesDir, report))).size, report).toBeGreaterThan(0);
    expect(imported.code, imported.stderr).toBe(0);
    for (const p of [...first, ...second]) expect(world.target.getAsset('raw-a', p)?.content.equals(content(p, 5000)), p).toBe(true);
  });
});

describe('a seal killed between the bundles of one split blob (SIGKILL), then run again', () => {
  const CAP = 1024 * 1024;
  const BIG = content('split-on-media', 3 * CAP + 777);
  let world: World | undefined;
  afterEach(async () => world?.close());

  it('goes on where it stopped: no part is shipped twice, the first bundle keeps its bytes, and the blob arrives byte-identical', async () => {
    // Prepare
    world = await makeWorld({ exportOverrides: { bundles: { directory: 'bundles', maxBytes: CAP } } });
    world.source.putRawAsset('raw-a', '/big/media.iso', BIG);

    // Act: killed once the first part bundle is published and marked, then run again
    const killed = await runFerry(['export', '--once', '--config', world.exportConfig], { ...world.env, FERRY_FAULT_POINT: 'seal:after-mark' });
    const carried = await outbox(world);
    const rerun = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const after = await outbox(world);
    const files = [...after.keys()].map((f) => path.join(world!.bundlesDir, f));
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(killed.signal).toBe('SIGKILL');
    expect([...carried.keys()]).toEqual(['test-source-00000001.tar']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/its split goes on from where a seal that stopped left it/);
    expect(after.get('test-source-00000001.tar')).toBe(carried.get('test-source-00000001.tar'));
    const shipped: [number, number][] = [];
    for (const file of files) {
      const { manifest } = await readBundleSummary(createReadStream(file), file);
      for (const part of (manifest.blobs.parts ?? []).filter((p) => p.shippedIn === manifest.sequence)) shipped.push([part.offset, part.length]);
    }
    expect(shipped.reduce((n, [, length]) => n + length, 0)).toBe(BIG.length);
    shipped.forEach(([offset], i) => expect(offset).toBe(shipped.slice(0, i).reduce((n, [, length]) => n + length, 0)));
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/big/media.iso')!.content.equals(BIG)).toBe(true);
  });
});

describe('a seal on S3 and DynamoDB killed at any step (SIGKILL), then run again', () => {
  let world: World | undefined;
  let s3: S3Client;
  let dynamo: DynamoDBDocumentClient;
  const awsEndpoint = inject('awsEndpoint');
  const dynamoEndpoint = inject('dynamoEndpoint');
  const table = `ferry-seal-crash-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    s3 = makeS3Client(awsEndpoint);
    dynamo = makeDynamoClient(dynamoEndpoint);
    await dynamo.send(new CreateTableCommand(createTableInput(table)));
  });
  afterAll(() => {
    s3?.destroy();
    dynamo?.destroy();
  });
  afterEach(async () => world?.close());

  /** Stages artifacts as the copy function would: blobs in S3, pending entries in DynamoDB. */
  async function stage(store: S3ObjectStore, state: DynamoExportState, paths: string[]): Promise<void> {
    for (const p of paths) {
      const stored = await store.putBlob(Readable.from([content(p, 5000)]));
      await state.addPendingEntry({ kind: 'raw', sourceRepository: 'raw-a', path: p, targetRepository: 'raw-a', digest: stored.digest, size: stored.size, checksums: { sha256: stored.digest.slice(7) } });
    }
  }

  async function published(bucket: string): Promise<Map<string, string>> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bundles/' }));
    const hashes = new Map<string, string>();
    const bundles = (listed.Contents ?? []).filter((o) => o.Key?.endsWith('.tar'));
    for (const object of bundles.sort((a, b) => String(a.Key).localeCompare(String(b.Key)))) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      hashes.set(path.posix.basename(object.Key!), createHash('sha256').update(Buffer.from(await got.Body!.transformToByteArray())).digest('hex'));
    }
    return hashes;
  }

  it.each(SEAL_FAULT_POINTS)('keeps one digest per sequence when killed at %s, and the chain imports whole', async (point) => {
    // Prepare: bundle 1 sealed by the child, then three more staged artifacts
    world = await makeWorld();
    const bucket = `ferry-crash-${randomUUID().slice(0, 12)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const sourceId = `crash-${randomUUID().slice(0, 8)}`;
    const store = new S3ObjectStore({ client: s3, bucket });
    const state = new DynamoExportState({ client: dynamo, table, sourceId });
    const env = {
      ...world.env,
      FERRY_TEST_AWS_ENDPOINT: awsEndpoint,
      FERRY_TEST_DYNAMO_ENDPOINT: dynamoEndpoint,
      FERRY_TEST_BUCKET: bucket,
      FERRY_TEST_TABLE: table,
      FERRY_TEST_SOURCE_ID: sourceId,
      FERRY_TEST_KEY_FILE: path.join(world.dir, 'export.key'),
    };
    const first = ['/a/1.bin', '/a/2.bin', '/a/3.bin'];
    const second = ['/b/4.bin', '/b/5.bin', '/b/6.bin'];
    await stage(store, state, first);
    expect((await runNode(SEAL_CHILD, env)).code).toBe(0);
    await stage(store, state, second);

    // Act
    const killed = await runNode(SEAL_CHILD, { ...env, FERRY_FAULT_POINT: point });
    const carried = await published(bucket);
    const rerun = await runNode(SEAL_CHILD, env);
    const after = await published(bucket);
    const files: string[] = [];
    for (const name of after.keys()) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `bundles/${name}` }));
      files.push(path.join(world.dir, name));
      await writeFile(files.at(-1)!, Buffer.from(await got.Body!.transformToByteArray()));
    }
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(killed.signal).toBe('SIGKILL');
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const [file, hash] of carried) expect(after.get(file), `${file} changed after the re-run`).toBe(hash);
    expect([...after.keys()]).toEqual([`${sourceId}-00000001.tar`, `${sourceId}-00000002.tar`]);
    for (const report of [`${sourceId}-00000001.html`, `${sourceId}-00000002.html`]) {
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `bundles/${report}` }))).ContentType, report).toBe('text/html; charset=utf-8');
    }
    expect(imported.code, imported.stderr).toBe(0);
    for (const p of [...first, ...second]) expect(world.target.getAsset('raw-a', p)?.content.equals(content(p, 5000)), p).toBe(true);
  });
});
