/**
 * The serverless flow end to end against the emulators (fauxqs for S3 + SQS, DynamoDB
 * Local) and two Nexus stand-ins: a signed Nexus webhook → webhook handler → SQS → copy
 * handler (fed a real SQS event) → seal handler → bundle in S3 → the real `ferry import`
 * CLI → the target Nexus holds the same bytes. The deployment (emulators, mocks, the
 * functions loaded cold) is test/support/deployment.ts; receipts going back are in
 * test/deployed-receipts.test.ts.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it, vi } from 'vitest';
import { decodeReceipt } from '../shared/core/receipts/codec.ts';
import { SCAN_LAG_MAX_METRIC, SCAN_LAG_METRIC } from '../functions/metrics.ts';
import { tgz } from './nexus-standin/archives.ts';
import { signWebhookBody } from './nexus-standin/index.ts';
import { makeS3Client } from './support/emulators.ts';
import { content, runFerry } from './support/world.ts';
import { makeImage, makeLayer } from './support/images.ts';
import { skopeoInspectRaw } from './support/skopeo.ts';
import { s3ObjectCreated, urlEvent } from './support/lambda-events.ts';
import { WEBHOOK_SECRET, TARGET_USER, lambda, sha256, awsEndpoint, signingKey, deploy, lambdaContext, functionUrl, drain, deleteMessages, sealIntoInbox } from './support/deployment.ts';

describe('the deployed flow on emulators', () => {
  it('carries a webhook-announced artifact through SQS, copy, seal and S3 to the target, byte-identical', async () => {
    // Prepare: Nexus posts its webhook to the function URL
    const d = await deploy();
    const url = await functionUrl(d.handlers.webhook);
    d.world.source.addWebhook({ repository: 'raw-a', url: url.url, secret: WEBHOOK_SECRET, events: ['component'] });
    const artifact = content('deployed-flow', 300_000);

    try {
      // Act: upload → webhook → SQS
      d.world.source.putRawAsset('raw-a', '/libs/widget-1.0.bin', artifact);
      await d.world.source.webhooksIdle();
      const { event, messages } = await drain(d);
      // The same delivery again (a duplicate): nothing new is queued.
      const again = await d.handlers.webhook(urlEvent(url.bodies[0]!.body, url.bodies[0]!.headers), lambdaContext());
      const afterDuplicate = await drain(d);
      // SQS → copy → seal
      const copied = await d.handlers.copy(event, lambdaContext());
      await deleteMessages(d, messages);
      const sealed = await d.handlers.seal({ trigger: 'test' }, lambdaContext());
      // S3 → media → the isolated side's CLI
      const bundle = sealed.bundles[0]!;
      const file = path.join(d.world.dir, bundle.name);
      const s3 = makeS3Client(awsEndpoint);
      const key = String(bundle.location).replace(`s3://${d.bucket}/`, '');
      const got = await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: key }));
      await pipeline(got.Body as Readable, createWriteStream(file));
      await writeFile(d.world.publicKeyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
      const imported = await runFerry(['import', '--config', d.world.importConfig, file], d.world.env);

      // Assess
      expect(d.world.source.webhookFailures).toBe(0);
      expect(messages).toHaveLength(1);
      expect(JSON.parse(String(messages[0]!.Body))).toMatchObject({ kind: 'raw', sourceRepository: 'raw-a', path: '/libs/widget-1.0.bin' });
      expect(again.statusCode).toBe(202);
      expect(JSON.parse(String(again.body))).toMatchObject({ duplicate: true });
      expect(afterDuplicate.messages).toHaveLength(0);
      expect(copied.batchItemFailures).toEqual([]);
      expect(sealed.bundles).toHaveLength(1);
      expect(bundle).toMatchObject({ name: 'test-source-00000001.tar', sequence: 1, entries: 1 });
      expect(bundle.location).toBe(`s3://${d.bucket}/bundles/test-source-00000001.tar`);
      expect(imported.code, imported.stderr).toBe(0);
      const arrived = d.world.target.getAsset('raw-a', '/libs/widget-1.0.bin');
      expect(arrived?.content.equals(artifact)).toBe(true);
      expect(sha256(arrived!.content)).toBe(sha256(artifact));
    } finally {
      await new Promise((resolve) => url.server.close(resolve));
    }
  });

  it('changes nothing for a forged webhook: 401, no message queued, nothing staged', async () => {
    // Prepare
    const d = await deploy();
    const { componentId } = d.world.source.putRawAsset('raw-a', '/libs/forged.bin', content('forged', 1000));
    const body = Buffer.from(
      JSON.stringify({
        timestamp: '2025-01-15T10:20:30.123+00:00',
        nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93',
        initiator: 'admin/10.0.0.5',
        repositoryName: 'raw-a',
        action: 'CREATED',
        component: { id: '1', componentId, format: 'raw', name: 'libs/forged.bin' },
      }),
    );
    const headers = {
      'content-type': 'application/json; charset=UTF-8',
      'x-nexus-webhook-id': 'rm:repository:component',
      'x-nexus-webhook-delivery': 'forged-1',
      'x-nexus-webhook-signature': signWebhookBody('a-guessed-secret', body),
    };

    // Act
    const response = await d.handlers.webhook(urlEvent(body, headers), lambdaContext());
    const queued = await drain(d);
    const sealed = await d.handlers.seal({}, lambdaContext());
    const objects = await makeS3Client(awsEndpoint).send(new ListObjectsV2Command({ Bucket: d.bucket }));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(queued.messages).toHaveLength(0);
    expect(sealed.bundles).toEqual([]);
    expect(objects.KeyCount ?? 0).toBe(0);
  });

  it('continues a scan cut short by the remaining time from its DynamoDB checkpoint', async () => {
    // Prepare: 25 artifacts = 3 pages of 10
    const d = await deploy();
    for (let i = 0; i < 25; i++) d.world.source.putRawAsset('raw-a', `/scan/a-${i}.bin`, content(`scan${i}`, 500 + i));

    // Act: the first invocation has less than a minute left, the next one plenty
    const first = await d.handlers.scan({ 'detail-type': 'Scheduled Event' }, lambdaContext(30_000));
    const second = await d.handlers.scan({ 'detail-type': 'Scheduled Event' }, lambdaContext(900_000));
    const { event } = await drain(d);

    // Assess
    expect(first.repositories).toEqual([expect.objectContaining({ repository: 'raw-a', complete: false, resumed: false, pages: 1, queued: 10, watermark: undefined })]);
    expect(second.repositories).toEqual([expect.objectContaining({ repository: 'raw-a', complete: true, resumed: true, pages: 2, queued: 15 })]);
    expect(second.repositories[0]?.watermark).toBeDefined();
    const pages = d.world.source.requests.filter((r) => r.url.startsWith('/service/rest/v1/components?repository=raw-a'));
    expect(pages).toHaveLength(3);
    expect(pages.filter((r) => !r.url.includes('continuationToken'))).toHaveLength(1);
    const paths = event.Records.map((r) => JSON.parse(r.body).path as string).sort();
    expect(paths).toEqual(Array.from({ length: 25 }, (_, i) => `/scan/a-${i}.bin`).sort());
    // The metric the ScanLag alarm watches (infra/), per repository, only once the scan completed.
    const lag = emfRecords().filter((r) => r._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === SCAN_LAG_METRIC));
    expect(lag).toHaveLength(1);
    expect(lag[0]).toMatchObject({ repository: 'raw-a', service: 'ferry-flow' });
    expect(lag[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([expect.arrayContaining(['service', 'repository'])]);
    // And the worst of the run, without a repository: the alarm for repositories defined after the deploy.
    const worst = emfRecords().filter((r) => r._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === SCAN_LAG_MAX_METRIC));
    expect(worst).toHaveLength(1);
    expect(worst[0]![SCAN_LAG_MAX_METRIC]).toBe(lag[0]![SCAN_LAG_METRIC]);
    expect(worst[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);
  });

  it('starts the seal function early, asynchronously, once the pending bytes pass the threshold', async () => {
    // Prepare: a threshold of 100 kB; the first artifact stays under it, the second passes it
    const d = await deploy({ sealThresholdBytes: 100_000 });
    const copyNew = async () => {
      await d.handlers.scan({}, lambdaContext());
      const { event, messages } = await drain(d);
      const result = await d.handlers.copy(event, lambdaContext());
      await deleteMessages(d, messages);
      return result;
    };
    d.world.source.putRawAsset('raw-a', '/big/one.bin', content('early-1', 60_000));

    // Act
    const first = await copyNew();
    const invokesAfterFirst = lambda.commandCalls(InvokeCommand).length;
    d.world.source.putRawAsset('raw-a', '/big/two.bin', content('early-2', 60_000));
    const second = await copyNew();

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(invokesAfterFirst).toBe(0);
    const invokes = lambda.commandCalls(InvokeCommand);
    expect(invokes).toHaveLength(1);
    expect(invokes[0]!.args[0].input).toMatchObject({ FunctionName: 'ferry-seal', InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(invokes[0]!.args[0].input.Payload as Uint8Array).toString())).toEqual({ trigger: 'copy', pendingBytes: 120_000 });
  });

  it('imports a bundle dropped in the inbox bucket with the import function, writes a signed receipt, and ignores it the second time', async () => {
    // Prepare: scan → copy → seal a bundle, then ops put it in the isolated side's inbox
    const d = await deploy();
    const artifact = content('import-fn', 70_000);
    d.world.source.putRawAsset('raw-a', '/tools/tool-2.0.tgz', artifact);
    const { bundle, key } = await sealIntoInbox(d);
    const s3 = makeS3Client(awsEndpoint);
    const created = s3ObjectCreated(d.inbox, key);

    // Act
    const first = await d.handlers.import(created, lambdaContext());
    const second = await d.handlers.import(created, lambdaContext());

    // Assess
    expect(first.bundles).toEqual([{ key, status: 'imported', sequence: 1, receipt: 'receipts/test-source-00000001.receipt.json' }]);
    expect(second.bundles).toEqual([{ key, status: 'already-imported', sequence: 1 }]);
    expect(d.world.target.getAsset('raw-a', '/tools/tool-2.0.tgz')?.content.equals(artifact)).toBe(true);
    expect(d.world.target.uploadCount('raw-a', '/tools/tool-2.0.tgz')).toBe(1);
    const receiptObject = await s3.send(new GetObjectCommand({ Bucket: d.inbox, Key: 'receipts/test-source-00000001.receipt.json' }));
    const receipt = decodeReceipt(await receiptObject.Body!.transformToString(), 'receipt', [signingKey.publicKey]);
    expect(receipt).toMatchObject({ sourceId: 'test-source', bundle: { sequence: 1, digest: bundle.digest }, summary: { imported: 1, present: 0 } });
    expect(receipt.blobsHeld.map((b) => b.digest)).toEqual([`sha256:${sha256(artifact)}`]);
  });
});

describe('the deployed flow with helm charts', () => {
  it('turns a helm asset webhook into a copy task, seals it, and the import function loads the chart; index.yaml lists it', async () => {
    // Prepare: Nexus posts asset events of helm-hosted to the function URL
    const d = await deploy({ helm: true });
    const url = await functionUrl(d.handlers.webhook);
    d.world.source.addWebhook({ repository: 'helm-hosted', url: url.url, secret: WEBHOOK_SECRET, events: ['asset'] });
    const archive = await tgz([{ name: 'mychart/Chart.yaml', content: 'apiVersion: v2\nname: mychart\nversion: 1.2.3\n' }]);

    try {
      // Act: upload → asset webhook → SQS → copy → seal → inbox → import function
      await d.world.source.seedUpload('helm-hosted', { files: [{ field: 'helm.asset', filename: 'mychart-1.2.3.tgz', content: archive }] });
      await d.world.source.webhooksIdle();
      const { event, messages } = await drain(d);
      const copied = await d.handlers.copy(event, lambdaContext());
      await deleteMessages(d, messages);
      const [bundle] = (await d.handlers.seal({}, lambdaContext())).bundles;
      const key = `bundles/${bundle!.name}`;
      await makeS3Client(awsEndpoint).send(new CopyObjectCommand({ Bucket: d.inbox, Key: key, CopySource: `${d.bucket}/${key}` }));
      const imported = await d.handlers.import(s3ObjectCreated(d.inbox, key), lambdaContext());

      // Assess
      expect(messages.map((m) => JSON.parse(String(m.Body)))).toEqual([
        expect.objectContaining({ kind: 'helm', sourceRepository: 'helm-hosted', path: '/mychart-1.2.3.tgz', component: { group: null, name: 'mychart', version: '1.2.3' } }),
      ]);
      expect(copied.batchItemFailures).toEqual([]);
      expect(imported.bundles).toEqual([expect.objectContaining({ key, status: 'imported', sequence: 1 })]);
      expect(d.world.target.getAsset('helm-hosted', '/mychart-1.2.3.tgz')?.content.equals(archive)).toBe(true);
      const index = await fetch(`${d.world.target.url}/repository/helm-hosted/index.yaml`, {
        headers: { authorization: `Basic ${Buffer.from(`${TARGET_USER.username}:${TARGET_USER.password}`).toString('base64')}` },
      });
      expect(await index.text()).toContain(`digest: ${sha256(archive)}`);
    } finally {
      await new Promise((resolve) => url.server.close(resolve));
    }
  });
});

describe('the deployed flow with docker images', () => {
  it('carries two tags sharing layers through scan, copy (SQS), seal and the import function; the target manifests are bit-identical', async () => {
    // Prepare: two tags of one repository sharing a base layer, listed by the source Nexus
    const d = await deploy({ images: true });
    const base = await makeLayer({ 'base/lib.so': Buffer.alloc(120_000, 7) });
    const one = makeImage({ layers: [base, await makeLayer({ 'app/one': 'one\n' })] });
    const two = makeImage({ layers: [base, await makeLayer({ 'app/two': 'two\n' })] });
    await d.images!.publish('team/app', '1.0.0', one);
    await d.images!.publish('team/app', '2.0.0', two);

    // Act: the schedule scans, SQS feeds copy, seal writes the bundle, ops drop it in the inbox
    const scanned = await d.handlers.scan({ 'detail-type': 'Scheduled Event' }, lambdaContext());
    const { event } = await drain(d);
    const copied = await d.handlers.copy(event, lambdaContext());
    const [bundle] = (await d.handlers.seal({}, lambdaContext())).bundles;
    const s3 = makeS3Client(awsEndpoint);
    const key = `bundles/${bundle!.name}`;
    await s3.send(new CopyObjectCommand({ Bucket: d.inbox, Key: key, CopySource: `${d.bucket}/bundles/${bundle!.name}` }));
    const imported = await d.handlers.import(s3ObjectCreated(d.inbox, key), lambdaContext());

    // Assess
    expect(scanned.repositories).toEqual([expect.objectContaining({ repository: 'docker-hosted', complete: true, queued: 2 })]);
    expect(event.Records.map((r) => JSON.parse(r.body)).map((t) => `${t.kind} ${t.name}:${t.tag}`).sort()).toEqual(['image team/app:1.0.0', 'image team/app:2.0.0']);
    expect(copied.batchItemFailures).toEqual([]);
    expect(bundle).toMatchObject({ sequence: 1, entries: 2 });
    expect(imported.bundles).toEqual([{ key, status: 'imported', sequence: 1, receipt: 'receipts/test-source-00000001.receipt.json' }]);
    const host = d.images!.target.host;
    expect((await skopeoInspectRaw(`${host}/team/app:1.0.0`)).equals(one.manifest.bytes)).toBe(true);
    expect((await skopeoInspectRaw(`${host}/team/app:2.0.0`)).equals(two.manifest.bytes)).toBe(true);
  });
});

interface EmfRecord {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [field: string]: unknown;
}

/** The EMF records the functions printed (Powertools Metrics writes them to console.log in dev mode). */
function emfRecords(): EmfRecord[] {
  const printed = vi.mocked(console.log).mock.calls.map((args) => String(args[0]));
  return printed.flatMap((line) => {
    try {
      const record = JSON.parse(line) as Partial<EmfRecord>;
      return record._aws?.CloudWatchMetrics ? [record as EmfRecord] : [];
    } catch {
      return [];
    }
  });
}
