/**
 * `ferry status` through the built CLI: on the embedded default after a real export and
 * import between two Nexus stand-ins (and a task that really failed), and on the
 * serverless side against DynamoDB Local and fauxqs (S3, SQS), its state seeded through
 * the real DynamoDB adapters.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTableInput, DynamoExportState, S3ObjectStore } from '../shared/adapters/aws/index.ts';
import { createImportTableInput, DynamoImportState } from '../shared/adapters/aws/dynamo-import-state.ts';
import { readBundleSummary } from '../shared/bundle/index.ts';
import type { ExportStatus, ImportStatus } from '../shared/core/status.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { makeDynamoClient, makeS3Client, makeSqsClient } from './support/emulators.ts';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';

async function statusJson<T extends ExportStatus | ImportStatus>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const run = await runFerry(['status', ...args, '--json'], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

describe('ferry status on the embedded default', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('shows the export side (watermarks, nothing pending, the last bundle) and the import side (chain head, held blobs, receipt)', async () => {
    // Prepare: 3 artifacts in raw-a, 2 in raw-b, exported and imported
    world = await makeWorld();
    for (let i = 0; i < 3; i++) world.source.putRawAsset('raw-a', `/a/${i}.bin`, content(`status-a${i}`, 1500 + i));
    for (let i = 0; i < 2; i++) world.source.putRawAsset('raw-b', `/b/${i}.bin`, content(`status-b${i}`, 700 + i));
    const startedAt = Date.now();
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [bundle] = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, bundle!], world.env);
    expect(imported.code, imported.stderr).toBe(0);
    const summary = await readBundleSummary(createReadStream(bundle!), path.basename(bundle!));

    // Act
    const exportSide = await statusJson<ExportStatus>(['--config', world.exportConfig], world.env);
    const importSide = await statusJson<ImportStatus>(['--config', world.importConfig], world.env);
    const exportText = await runFerry(['status', '--config', world.exportConfig], world.env);
    const importText = await runFerry(['status', '--config', world.importConfig], world.env);

    // Assess: the export side
    expect(exportSide).toMatchObject({ format: 'ferry.status.v1', side: 'export', deployment: 'embedded', sourceId: 'test-source', notScanned: [], pending: { entries: 0, bytes: 0 } });
    expect(exportSide.repositories.map((r) => r.repository)).toEqual(['raw-a', 'raw-b']);
    for (const r of exportSide.repositories) {
      expect(Date.parse(r.watermark!)).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(r.lagSeconds).toBeGreaterThanOrEqual(0);
      expect(r.scan).toBeNull();
      expect(r.pending).toEqual({ entries: 0, bytes: 0 });
    }
    expect(exportSide.tasks).toMatchObject({ kept: 'task-queue', queued: 0, running: 0, retrying: 0, dead: 0, failed: [] });
    expect(exportSide.bundles).toEqual({
      sealed: 1,
      bytes: (await stat(bundle!)).size,
      last: { sourceId: 'test-source', sequence: 1, digest: summary.manifestDigest, name: 'test-source-00000001.tar', size: (await stat(bundle!)).size, sealedAt: expect.any(String), published: true },
    });
    expect(exportSide.farSide).toEqual({ blobs: 5, shippedInBundles: 5, reportedByReceipts: 0, resendsWaiting: 0 });
    expect(exportText.code, exportText.stderr).toBe(0);
    expect(exportText.stdout).toMatch(/^REPOSITORY +WATERMARK +LAG +SCAN +PENDING$/m);
    expect(exportText.stdout).toMatch(/^raw-a +\d{4}-\d\d-\d\dT\S+ +\d+s +- +0$/m);
    expect(exportText.stdout).toContain('last bundle  #1 test-source-00000001.tar');
    expect(exportText.stdout).toContain('tasks        0 queued, 0 running, 0 retrying, 0 failed');

    // Assess: the import side
    expect(importSide.sources).toEqual([
      {
        sourceId: 'test-source',
        chainHead: { sequence: 1, digest: summary.manifestDigest },
        lastImport: { sequence: 1, digest: summary.manifestDigest, importedAt: expect.any(String) },
        bundlesImported: 1,
        aheadOfChain: 0,
        lastReceipt: { name: 'test-source-00000001.receipt.json', location: path.join(world.receiptsDir, 'test-source-00000001.receipt.json'), writtenAt: expect.any(String) },
        lastResendRequest: null,
      },
    ]);
    const heldBytes = [0, 1, 2].reduce((n, i) => n + 1500 + i, 0) + 700 + 701;
    expect(importSide.held).toEqual({ blobs: 5, bytes: heldBytes });
    expect(importSide.receipts).toMatchObject({ location: world.receiptsDir, count: 1, latest: { name: 'test-source-00000001.receipt.json' } });
    expect(importText.code, importText.stderr).toBe(0);
    expect(importText.stdout).toMatch(/^test-source +#1 sha256:[0-9a-f]{12}… +#1 at \S+ +1 +test-source-00000001\.receipt\.json \(/m);
    expect(importText.stdout).toContain(`held         5 blobs, ${(heldBytes / 1024).toFixed(1)} KiB`);
  });

  it('shows a task that failed every attempt with its last error, until the next export retries it', async () => {
    // Prepare: every download of one artifact arrives corrupted
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/good.bin', content('good', 900));
    world.source.putRawAsset('raw-a', '/bad.bin', content('bad', 900));
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\/bad\.bin/, kind: 'corrupt', times: 1000 });
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(exported.code).toBe(1);

    // Act
    const status = await statusJson<ExportStatus>(['--config', world.exportConfig], world.env);
    const text = await runFerry(['status', '--config', world.exportConfig], world.env);

    world.source.clearFaults();
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const afterRetry = await statusJson<ExportStatus>(['--config', world.exportConfig], world.env);

    // Assess
    expect(status.tasks).toMatchObject({ kept: 'task-queue', queued: 0, retrying: 0, dead: 1 });
    expect(status.tasks.failed).toEqual([
      { id: expect.any(String), task: 'raw-a/bad.bin', state: 'dead', attempts: 3, lastError: expect.stringContaining('raw-a/bad.bin: sha256 mismatch'), failedAt: expect.any(String) },
    ]);
    expect(status.bundles.last?.sequence).toBe(1);
    expect(text.stdout).toContain('tasks        0 queued, 0 running, 0 retrying, 1 failed');
    expect(text.stdout).toMatch(/^ {2}failed {3}raw-a\/bad\.bin: 3 attempts, last \S+: .*sha256 mismatch/m);
    expect(afterRetry.tasks).toMatchObject({ dead: 0, failed: [] });
    expect(afterRetry.bundles.last?.sequence).toBe(2);
  });

  it('shows entries staged but not sealed, and a scan in progress, per repository', async () => {
    // Prepare: the export state file written through the embedded adapter, as a run stopped mid-way leaves it
    world = await makeWorld();
    const { SqliteExportState } = await import('../shared/adapters/embedded/index.ts');
    const state = new SqliteExportState(path.join(world.dir, 'export-work', 'state.db'));
    await state.advanceWatermark('raw-a', undefined, new Date(Date.now() - 90_000).toISOString());
    await state.putScanCheckpoint('raw-a', { startedAt: new Date(Date.now() - 5_000).toISOString(), since: null, continuationToken: 'next-page' });
    for (const [p, bytes] of [['/x.bin', 'x'.repeat(1000)], ['/y.bin', 'y'.repeat(24)]] as const) {
      await state.addPendingEntry({ kind: 'raw', sourceRepository: 'raw-a', path: p, targetRepository: 'raw-a', digest: sha256Of(bytes), size: bytes.length, checksums: {} });
    }
    state.close();

    // Act
    const status = await statusJson<ExportStatus>(['--config', world.exportConfig], world.env);
    const text = await runFerry(['status', '--config', world.exportConfig], world.env);

    // Assess
    expect(status.repositories).toEqual([
      {
        repository: 'raw-a',
        watermark: expect.any(String),
        lagSeconds: expect.any(Number),
        scan: { startedAt: expect.any(String), since: null, continuationToken: 'next-page', runningSeconds: expect.any(Number) },
        pending: { entries: 2, bytes: 1024 },
      },
    ]);
    expect(status.repositories[0]!.lagSeconds).toBeGreaterThanOrEqual(90);
    expect(status.repositories[0]!.scan!.runningSeconds).toBeGreaterThanOrEqual(5);
    expect(status).toMatchObject({ notScanned: ['raw-b'], pending: { entries: 2, bytes: 1024 }, bundles: { sealed: 0, last: null } });
    expect(text.stdout).toMatch(/^raw-a +\S+ +1m \d\ds +in progress \d+s \(paged\) +2 \(1\.0 KiB\)$/m);
    expect(text.stdout).toContain('pending      2 entries, 1.0 KiB not yet sealed');
    expect(text.stdout).toContain('no watermark yet: raw-b');
    expect(text.stdout).toContain('last bundle  none sealed yet');
  });

  it('says no export or import has run yet, without creating any state; --table flags are refused with --config', async () => {
    // Prepare
    world = await makeWorld();

    // Act
    const status = await statusJson<ExportStatus>(['--config', world.exportConfig], world.env);
    const importSide = await statusJson<ImportStatus>(['--config', world.importConfig], world.env);
    const refused = await runFerry(['status', '--config', world.exportConfig, '--source-id', 'x'], world.env);

    // Assess
    expect(status).toMatchObject({ repositories: [], notScanned: ['raw-a', 'raw-b'], bundles: { sealed: 0, last: null } });
    expect(status.notes).toEqual([`no state at ${path.join(world.dir, 'export-work', 'state.db')} yet: no export has run`]);
    expect(importSide).toMatchObject({ sources: [], held: { blobs: 0, bytes: 0 }, receipts: { count: 0, latest: null } });
    expect(existsSync(path.join(world.dir, 'export-work'))).toBe(false);
    expect(existsSync(path.join(world.dir, 'import-work'))).toBe(false);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--source-id: only with --table');
  });
});

describe('ferry status on the serverless side', () => {
  const region = 'us-east-1';
  let dynamo: DynamoDBDocumentClient;
  let s3: S3Client;
  let sqs: SQSClient;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    const awsEndpoint = inject('awsEndpoint');
    const dynamoEndpoint = inject('dynamoEndpoint');
    dynamo = makeDynamoClient(dynamoEndpoint);
    s3 = makeS3Client(awsEndpoint);
    sqs = makeSqsClient(awsEndpoint);
    env = {
      PATH: process.env.PATH,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'ferrytest',
      AWS_SECRET_ACCESS_KEY: 'ferrytest',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      AWS_ENDPOINT_URL_S3: awsEndpoint,
      AWS_ENDPOINT_URL_SQS: awsEndpoint,
    };
  });

  afterAll(() => {
    dynamo?.destroy();
    s3?.destroy();
    sqs?.destroy();
  });

  const raw = (repository: string, p: string, bytes: string) => ({
    kind: 'raw', sourceRepository: repository, path: p, targetRepository: repository, digest: sha256Of(bytes), size: bytes.length, checksums: {},
  });

  it('answers the export side from the state table (watermark and lag, a scan in progress, pending, the last bundle, the far side), the DLQ when named, and names a table that is not there', async () => {
    // Prepare: one sealed bundle, two entries pending, a receipt of another chain, a resend request
    const table = `ferry-status-${randomUUID()}`;
    await dynamo.send(new CreateTableCommand(createTableInput(table)));
    const state = new DynamoExportState({ client: dynamo, table, sourceId: 'corp' });
    const watermark = new Date(Date.now() - 3600_000).toISOString();
    await state.advanceWatermark('raw-a', undefined, watermark);
    await state.putScanCheckpoint('raw-b', { startedAt: new Date().toISOString(), since: null, continuationToken: 'page-2' });
    await state.addPendingEntry(raw('raw-a', '/sealed.bin', 'sealed bytes'));
    const [sealed] = await state.listPendingEntries();
    const bundle = { sourceId: 'corp', sequence: 1, digest: sha256Of('manifest 1'), name: 'corp-00000001.tar', size: 4096, sealedAt: new Date().toISOString(), published: true };
    await state.recordSeal(bundle, [sealed!.seq], [sha256Of('sealed bytes'), sha256Of('another blob')]);
    await state.addPendingEntry(raw('raw-b', '/one.bin', 'one'));
    await state.addPendingEntry(raw('raw-b', '/two.bin', 'two!'));
    await state.recordHeldBlobs([sha256Of('held elsewhere')], 0);
    await state.requestResend([{ digest: sha256Of('another blob'), size: 12 }]);
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `ferry-status-dlq-${randomUUID().slice(0, 8)}` }));
    // fauxqs names its own host in queue URLs; the CLI reaches it at the emulator's endpoint, as it would reach SQS.
    const dlq = String(created.QueueUrl).replace(/^https?:\/\/[^/]+/, inject('awsEndpoint'));
    for (const id of ['t1', 't2']) await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: JSON.stringify({ id }) }));

    // Act
    const status = await statusJson<ExportStatus>(['--table', table, '--source-id', 'corp'], env);
    const withDlq = await statusJson<ExportStatus>(['--table', table, '--source-id', 'corp', '--dlq-url', dlq], env);
    const text = await runFerry(['status', '--table', table, '--source-id', 'corp'], env);
    const noTable = await runFerry(['status', '--table', `${table}-gone`, '--source-id', 'corp'], env);

    // Assess
    expect(status).toMatchObject({ side: 'export', deployment: 'serverless', sourceId: 'corp', pending: { entries: 2, bytes: 7 } });
    const [a, b] = status.repositories;
    expect(a).toMatchObject({ repository: 'raw-a', watermark, scan: null, pending: { entries: 0, bytes: 0 } });
    expect(a!.lagSeconds).toBeGreaterThanOrEqual(3600);
    expect(b).toMatchObject({ repository: 'raw-b', watermark: null, lagSeconds: null, scan: { since: null, continuationToken: 'page-2' }, pending: { entries: 2, bytes: 7 } });
    expect(status.bundles).toEqual({ sealed: 1, bytes: 4096, last: bundle });
    expect(status.farSide).toEqual({ blobs: 2, shippedInBundles: 1, reportedByReceipts: 1, resendsWaiting: 1 });
    expect(status.tasks).toMatchObject({ kept: 'dead-letter-queue', dead: null });
    expect(status.tasks.note).toContain('--dlq-url');
    expect(withDlq.tasks).toMatchObject({ kept: 'dead-letter-queue', dead: 2, failed: [] });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^raw-a +\S+ +1h 0\dm +- +0$/m);
    expect(text.stdout).toMatch(/^raw-b +- +- +in progress \d+s \(paged\) +2 \(7 B\)$/m);
    expect(text.stdout).toContain('tasks        ? queued, ? running, ? retrying, ? failed (dead-letter queue)');
    expect(noTable.code).toBe(1);
    expect(noTable.stderr).toContain(`DynamoDB Query on ${table}-gone`);
  });

  it('answers the import side from its table (chain heads, bundles ahead of the chain), held blobs and receipts from the buckets when named; import-side flags with --source-id are refused', async () => {
    // Prepare: bundles 1 and 2 of corp imported in sequence, 4 out of sequence; two held blobs; one receipt
    const table = `ferry-import-status-${randomUUID()}`;
    await dynamo.send(new CreateTableCommand(createImportTableInput(table)));
    const state = new DynamoImportState({ client: dynamo, table });
    const digests = [1, 2, 4].map((n) => sha256Of(`bundle ${n}`));
    const at = (minute: number) => `2025-01-01T00:0${minute}:00.000Z`;
    await state.recordBundleImported({ sourceId: 'corp', sequence: 1, digest: digests[0]!, previous: null, importedAt: at(1), advancesChain: true });
    await state.recordBundleImported({ sourceId: 'corp', sequence: 2, digest: digests[1]!, previous: digests[0]!, importedAt: at(2), advancesChain: true });
    await state.recordBundleImported({ sourceId: 'corp', sequence: 4, digest: digests[2]!, previous: sha256Of('bundle 3') as Digest, importedAt: at(3), advancesChain: false });
    const held = `ferry-held-${randomUUID().slice(0, 8)}`;
    const inbox = `ferry-inbox-${randomUUID().slice(0, 8)}`;
    for (const bucket of [held, inbox]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3ObjectStore({ client: s3, bucket: held });
    for (const bytes of ['held one', 'held two!']) await store.putBlob(Readable.from([Buffer.from(bytes)]));
    await s3.send(new PutObjectCommand({ Bucket: inbox, Key: 'receipts/corp-00000002.receipt.json', Body: '{}' }));

    // Act
    const status = await statusJson<ImportStatus>(['--table', table, '--held-bucket', held, '--inbox-bucket', inbox], env);
    const tableOnly = await statusJson<ImportStatus>(['--table', table], env);
    const mixed = await runFerry(['status', '--table', table, '--source-id', 'corp', '--held-bucket', held], env);

    // Assess
    expect(status.sources).toEqual([
      {
        sourceId: 'corp',
        chainHead: { sequence: 2, digest: digests[1] },
        lastImport: { sequence: 4, digest: digests[2], importedAt: at(3) },
        bundlesImported: 3,
        aheadOfChain: 1,
        lastReceipt: { name: 'corp-00000002.receipt.json', location: `s3://${inbox}/receipts/corp-00000002.receipt.json`, writtenAt: expect.any(String) },
        lastResendRequest: null,
      },
    ]);
    expect(status.held).toEqual({ blobs: 2, bytes: 17 });
    expect(status.receipts).toMatchObject({ location: `s3://${inbox}/receipts/`, count: 1 });
    expect(tableOnly).toMatchObject({ held: null, receipts: null });
    expect(tableOnly.notes.join('\n')).toContain('--held-bucket');
    expect(tableOnly.sources[0]!.chainHead).toEqual({ sequence: 2, digest: digests[1] });
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain("--held-bucket: not for the export side's table");
  });
});
