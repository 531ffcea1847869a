/**
 * What travels back to the serverless export side, and what the import function does when a
 * bundle cannot import in sequence, on the deployment of test/support/deployment.ts: a
 * signed receipt applied with `ferry receipt apply --table`; a bundle refused for a blob the
 * far side lost, healed through a resend request; a bundle whose predecessor was lost for
 * good, imported only when ops ask for the gap.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { makeS3Client } from './support/emulators.ts';
import { content, runFerry } from './support/world.ts';
import { s3ObjectCreated } from './support/lambda-events.ts';
import { region, credentials, sha256, awsEndpoint, dynamoEndpoint, signingKey, deploy, lambdaContext, sealIntoInbox } from './support/deployment.ts';

describe('receipts carried back to the serverless export side', () => {
  it('ferry receipt apply --table records in DynamoDB what the far side holds, checking the receipt signature', async () => {
    // Prepare: a bundle through the functions, imported by the import function, its receipt downloaded
    const d = await deploy();
    const artifact = content('receipt-back', 40_000);
    d.world.source.putRawAsset('raw-a', '/r/held.bin', artifact);
    const { key } = await sealIntoInbox(d);
    const s3 = makeS3Client(awsEndpoint);
    const [imported] = (await d.handlers.import(s3ObjectCreated(d.inbox, key), lambdaContext())).bundles;
    const receiptFile = path.join(d.world.dir, 'held.receipt.json');
    await writeFile(receiptFile, await (await s3.send(new GetObjectCommand({ Bucket: d.inbox, Key: imported!.receipt! }))).Body!.transformToString());
    const keyFile = path.join(d.world.dir, 'import-kms.pub.pem');
    await writeFile(keyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const wrongKeyFile = path.join(d.world.dir, 'other.pub.pem');
    await writeFile(wrongKeyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const env = { ...d.world.env, AWS_REGION: region, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint };
    const digest = `sha256:${sha256(artifact)}` as const;
    // Another chain on the same table (its own source id) has never shipped the blob.
    const other = new DynamoExportState({ client: DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials })), table: d.table, sourceId: 'other-source' });
    const before = await other.shippedIn(digest);

    // Act
    const refused = await runFerry(['receipt', 'apply', '--table', d.table, '--source-id', 'other-source', '--public-key', wrongKeyFile, receiptFile], env);
    const afterRefusal = await other.shippedIn(digest);
    const applied = await runFerry(['receipt', 'apply', '--table', d.table, '--source-id', 'other-source', '--public-key', keyFile, receiptFile], env);

    // Assess
    expect(before).toBeUndefined();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/held\.receipt\.json.*signature/i);
    expect(afterRefusal).toBeUndefined();
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('held.receipt.json: bundle 1 imported at');
    expect(applied.stdout).toContain('the far side holds 1 blobs (1 not known here before)');
    expect(await other.shippedIn(digest)).toBe(0);
  });

  it('heals a bundle refused for a blob the far side lost: resend request in the inbox, receipt apply --table, the next bundle imported together with it', async () => {
    // Prepare: bundle 1 imported by the function; the far side then loses its held copy of X
    const d = await deploy();
    const x = content('lost-and-found', 30_000);
    d.world.source.putRawAsset('raw-a', '/a/x.bin', x);
    const s3 = makeS3Client(awsEndpoint);
    const first = await sealIntoInbox(d);
    expect((await d.handlers.import(s3ObjectCreated(d.inbox, first.key), lambdaContext())).bundles[0]?.status).toBe('imported');
    const heldBucket = process.env.FERRY_HELD_BUCKET!;
    await s3.send(new DeleteObjectCommand({ Bucket: heldBucket, Key: `blobs/sha256/${sha256(x)}` }));
    d.world.source.putRawAsset('raw-a', '/b/x-again.bin', x);
    const second = await sealIntoInbox(d);

    // Act: refused (resend request written), applied on the export side, re-sent, imported together
    const refused = await d.handlers.import(s3ObjectCreated(d.inbox, second.key), lambdaContext()).catch((error: unknown) => error as Error);
    const requestFile = path.join(d.world.dir, 'resend.json');
    await writeFile(requestFile, await (await s3.send(new GetObjectCommand({ Bucket: d.inbox, Key: 'receipts/test-source-00000002.resend-request.json' }))).Body!.transformToString());
    const keyFile = path.join(d.world.dir, 'import-kms.pub.pem');
    await writeFile(keyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const env = { ...d.world.env, AWS_REGION: region, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint };
    const applied = await runFerry(['receipt', 'apply', '--table', d.table, '--source-id', 'test-source', '--public-key', keyFile, requestFile], env);
    const [third] = (await d.handlers.seal({}, lambdaContext())).bundles;
    const thirdKey = `bundles/${third!.name}`;
    await s3.send(new CopyObjectCommand({ Bucket: d.inbox, Key: thirdKey, CopySource: `${d.bucket}/bundles/${third!.name}` }));
    const healed = await d.handlers.import(s3ObjectCreated(d.inbox, thirdKey), lambdaContext());

    // Assess
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain(`blob sha256:${sha256(x)} is neither held here nor on the target`);
    expect(applied.code, applied.stderr).toBe(0);
    expect(third).toMatchObject({ sequence: 3, entries: 0 });
    expect(healed.bundles.map((b) => [b.key, b.status])).toEqual([
      [second.key, 'imported'],
      [thirdKey, 'imported'],
    ]);
    expect(d.world.target.getAsset('raw-a', '/b/x-again.bin')?.content.equals(x)).toBe(true);
  });

  it('imports a bundle whose predecessor was lost for good only when ops invoke the function asking for it (allowGap), with its receipt', async () => {
    // Prepare: bundle 1 imported, bundle 2 sealed but never carried, bundle 3 in the inbox
    const d = await deploy();
    d.world.source.putRawAsset('raw-a', '/gap/one.bin', content('gap-one', 2000));
    const first = await sealIntoInbox(d);
    expect((await d.handlers.import(s3ObjectCreated(d.inbox, first.key), lambdaContext())).bundles[0]?.status).toBe('imported');
    d.world.source.putRawAsset('raw-a', '/gap/two.bin', content('gap-two', 2000));
    const second = await sealIntoInbox(d);
    await makeS3Client(awsEndpoint).send(new DeleteObjectCommand({ Bucket: d.inbox, Key: second.key }));
    d.world.source.putRawAsset('raw-a', '/gap/three.bin', content('gap-three', 2000));
    const third = await sealIntoInbox(d);

    // Act
    const onArrival = await d.handlers.import(s3ObjectCreated(d.inbox, third.key), lambdaContext()).catch((error: unknown) => error as Error);
    const badAsk = await d.handlers.import({ bucket: d.inbox, bundles: [third.key], allowGap: 'yes' }, lambdaContext()).catch((error: unknown) => error as Error);
    const asked = await d.handlers.import({ bucket: d.inbox, bundles: [third.key], allowGap: true }, lambdaContext());

    // Assess
    expect(onArrival).toMatchObject({ name: 'SequenceError' });
    expect(badAsk).toMatchObject({ name: 'ImportEventError', message: expect.stringContaining('allowGap') });
    expect(asked.bundles).toEqual([{ key: third.key, status: 'imported', sequence: 3, receipt: 'receipts/test-source-00000003.receipt.json' }]);
    expect(d.world.target.getAsset('raw-a', '/gap/three.bin')?.content).toEqual(content('gap-three', 2000));
    expect(d.world.target.getAsset('raw-a', '/gap/two.bin')).toBeUndefined();
  });
});
