/**
 * The AWS adapters' failure handling, with the SDK clients mocked (aws-sdk-client-mock):
 * throttling, partial batch failures, lost seal races, and KMS signatures.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient, ProvisionedThroughputExceededException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand, SQSClient, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { sha256Of } from '../shared/digest.ts';
import { verifyDetached } from '../shared/signing.ts';
import type { BundleRecord, CopyTask } from '../shared/core/ports/index.ts';
import { EntryNotPendingError, SequenceConflictError } from '../shared/core/ports/errors.ts';
import {
  DynamoExportState,
  KmsSigner,
  QueueSendError,
  SqsTaskQueue,
  StateStoreError,
  TaskRejectedError,
  TaskTooLargeError,
  parseTaskMessage,
} from '../shared/adapters/aws/index.ts';

const region = 'us-east-1';

function dynamoMock() {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region }));
  const mock = mockClient(client);
  // No committed seal waits to be rolled forward.
  mock.on(QueryCommand).resolves({ Items: [] });
  return { mock, state: new DynamoExportState({ client, table: 'ferry-state', sourceId: 'src' }) };
}

function bundle(sequence: number): BundleRecord {
  return { sourceId: 'src', sequence, digest: sha256Of(`b${sequence}`), name: `b${sequence}.tar`, size: 10, sealedAt: '2024-01-01T00:00:00.000Z', published: false };
}

function cancelled(codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

function task(id: string, pad = 0): CopyTask {
  return { kind: 'raw', id, sourceRepository: 'raw-src', path: `/f/${id}${'x'.repeat(pad)}`, targetRepository: 'raw-dst', checksums: {} };
}

describe('DynamoExportState with a mocked client', () => {
  it('surfaces throttling that outlived the SDK retries as a StateStoreError naming the operation', async () => {
    // Prepare
    const { mock, state } = dynamoMock();
    mock.on(GetCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }));

    // Act
    const reading = state.getWatermark('raw-src');

    // Assess
    await expect(reading).rejects.toBeInstanceOf(StateStoreError);
    await expect(reading).rejects.toThrow(/GetItem on ferry-state .*WATERMARK#raw-src.*ProvisionedThroughputExceededException/);
  });

  it('retries a seal transaction cancelled only by throttling or a conflicting transaction', async () => {
    // Prepare
    const { mock, state } = dynamoMock();
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(['ThrottlingError', 'None', 'None']))
      .rejectsOnce(cancelled(['TransactionConflict', 'None', 'None']))
      .resolves({});

    // Act
    await state.recordSeal(bundle(1), [7], []);

    // Assess
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(3);
  });

  it('turns a lost race for the bundle counter into a SequenceConflictError', async () => {
    // Prepare
    const { mock, state } = dynamoMock();
    mock.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None']));
    mock.on(GetCommand).resolves({ Item: { pk: 'SOURCE#src', sk: 'COUNTER#BUNDLE', last: 4 } });

    // Act
    const sealing = state.recordSeal(bundle(4), [1], []);

    // Assess
    await expect(sealing).rejects.toBeInstanceOf(SequenceConflictError);
    await expect(sealing).rejects.toMatchObject({ expected: 5, got: 4 });
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('turns a failed pending condition into an EntryNotPendingError naming the entries', async () => {
    // Prepare
    const { mock, state } = dynamoMock();
    mock.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'None', 'ConditionalCheckFailed', 'None']));

    // Act
    const sealing = state.recordSeal(bundle(1), [10, 11, 12], []);

    // Assess
    await expect(sealing).rejects.toBeInstanceOf(EntryNotPendingError);
    await expect(sealing).rejects.toMatchObject({ seqs: [11] });
  });
});

describe('SqsTaskQueue with a mocked client', () => {
  const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/ferry-tasks';

  it('retries the entries a batch reports as failed, and only those', async () => {
    // Prepare
    const client = new SQSClient({ region });
    const mock = mockClient(client);
    mock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: [], Failed: [{ Id: 't1', SenderFault: false, Code: 'InternalError', Message: 'try again' }] })
      .resolves({ Failed: [] });
    const queue = new SqsTaskQueue({ client, queueUrl, backoffMs: 1 });

    // Act
    await queue.enqueue([task('a'), task('b'), task('c')]);

    // Assess
    const calls = mock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input as SendMessageBatchCommandInput);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.Entries).toHaveLength(3);
    expect(calls[1]?.Entries?.map((e) => JSON.parse(e.MessageBody ?? '').id)).toEqual(['b']);
    mock.restore();
  });

  it('reports the tasks still failing after the bounded retries', async () => {
    // Prepare
    const mock = mockClient(SQSClient);
    mock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: 't0', SenderFault: false, Code: 'InternalError', Message: 'down' }] });
    const queue = new SqsTaskQueue({ client: new SQSClient({ region }), queueUrl, maxAttempts: 3, backoffMs: 1 });

    // Act
    const sending = queue.enqueue([task('stuck'), task('fine')]);

    // Assess
    await expect(sending).rejects.toBeInstanceOf(QueueSendError);
    await expect(sending).rejects.toMatchObject({ taskIds: ['stuck'] });
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
    mock.restore();
  });

  it('does not retry a sender fault and names the rejected task', async () => {
    // Prepare
    const mock = mockClient(SQSClient);
    mock.on(SendMessageBatchCommand).resolves({ Failed: [{ Id: 't1', SenderFault: true, Code: 'InvalidMessageContents', Message: 'bad char' }] });
    const queue = new SqsTaskQueue({ client: new SQSClient({ region }), queueUrl, backoffMs: 1 });

    // Act
    const sending = queue.enqueue([task('ok'), task('bad')]);

    // Assess
    await expect(sending).rejects.toBeInstanceOf(TaskRejectedError);
    await expect(sending).rejects.toThrow(/"bad" \(InvalidMessageContents: bad char\)/);
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
    mock.restore();
  });

  it('retries a throttled call, splits batches at 256 KiB and refuses a task too large for any message', async () => {
    // Prepare
    const mock = mockClient(SQSClient);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    mock.on(SendMessageBatchCommand).rejectsOnce(throttled).resolves({ Failed: [] });
    const queue = new SqsTaskQueue({ client: new SQSClient({ region }), queueUrl, backoffMs: 1 });

    // Act
    await queue.enqueue([task('big1', 100 * 1024), task('big2', 100 * 1024), task('big3', 100 * 1024)]);
    const tooLarge = queue.enqueue([task('huge', 300 * 1024)]);

    // Assess
    const calls = mock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input as SendMessageBatchCommandInput);
    expect(calls.map((input) => input.Entries?.length)).toEqual([2, 2, 1]); // throttled, retried, then the third task
    await expect(tooLarge).rejects.toBeInstanceOf(TaskTooLargeError);
    await expect(tooLarge).rejects.toThrow(/"huge"/);
    mock.restore();
  });
});

describe('KmsSigner', () => {
  it('produces signatures verifyDetached accepts, signing short payloads raw and long ones by digest', async () => {
    // Prepare: a local P-256 key plays the KMS key.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const short = Buffer.from('{"format":"ferry.manifest.v1"}');
    const long = Buffer.alloc(10_000, 7);
    const client = new KMSClient({ region });
    const mock = mockClient(client);
    mock.on(GetPublicKeyCommand).resolves({
      KeyId: 'arn:aws:kms:us-east-1:123456789012:key/test',
      PublicKey: publicKey.export({ type: 'spki', format: 'der' }),
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['ECDSA_SHA_256'],
    });
    mock.on(SignCommand).callsFake((input: { Message: Uint8Array; MessageType: string }) => {
      // KMS signs the sha256 of a RAW message, or the given DIGEST: the same ECDSA value.
      const payload = input.MessageType === 'RAW' ? Buffer.from(input.Message) : long;
      if (input.MessageType === 'DIGEST') expect(Buffer.from(input.Message)).toEqual(createHash('sha256').update(long).digest());
      return { Signature: sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' }), SigningAlgorithm: 'ECDSA_SHA_256' };
    });

    // Act
    const signer = await KmsSigner.create({ client, keyId: 'alias/ferry' });
    const shortSignature = await signer.sign(short);
    const longSignature = await signer.sign(long);

    // Assess
    expect(verifyDetached(short, shortSignature, [publicKey])).toEqual({ keyId: signer.keyId });
    expect(verifyDetached(long, longSignature, [publicKey])).toEqual({ keyId: signer.keyId });
    expect(shortSignature).toMatchObject({ format: 'ferry.signature.v1', algorithm: 'ecdsa-p256-sha256' });
    const types = mock.commandCalls(SignCommand).map((call) => call.args[0].input.MessageType);
    expect(types).toEqual(['RAW', 'DIGEST']);
    expect(() => verifyDetached(Buffer.from('tampered'), shortSignature, [publicKey])).toThrow();
    expect(mock.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });
});

describe('parseTaskMessage', () => {
  const image = { kind: 'image', id: 'i1', sourceRepository: 'docker-hosted', name: 'team/app', tag: 'v1.2.0', targetRepository: 'docker-mirror', digest: `sha256:${'c'.repeat(64)}` };
  const raw = { kind: 'raw', id: 'r1', sourceRepository: 'raw-a', path: '/x.bin', targetRepository: 'raw-a', checksums: { sha1: 'd'.repeat(40) } };

  it.each([
    ['an image task', image],
    ['an image task without a digest', { ...image, digest: undefined }],
    ['a raw task', raw],
    ['a maven2 task', { ...raw, kind: 'maven2', path: '/org/x/1.0/x-1.0.jar', component: { group: 'org.x', name: 'x', version: '1.0' }, attributes: { extension: 'jar' } }],
    ['an npm task without a scope', { ...raw, kind: 'npm', path: '/x/-/x-1.0.0.tgz', component: { group: null, name: 'x', version: '1.0.0' } }],
  ])('reads %s back as it was sent', (_, task) => {
    // Prepare
    const body = JSON.stringify(task);
    // Act
    const parsed = parseTaskMessage(body);
    // Assess
    expect(parsed).toEqual(JSON.parse(body));
  });

  it.each([
    ['an unknown kind', { ...image, kind: 'conda' }, /^invalid task message: kind: /],
    ['a helm task without its component', { ...raw, kind: 'helm', path: '/web-1.0.0.tgz' }, /^invalid task message: component: /],
    ['an image task with a bad tag', { ...image, tag: '-bad tag' }, /^invalid task message: tag: not a valid tag/],
    ['an image task with a digest that is not sha256', { ...image, digest: 'md5:abc' }, /^invalid task message: digest: expected sha256/],
    ['an image task with an upper-case image name', { ...image, name: 'Team/App' }, /^invalid task message: name: not a valid image name/],
    ['a raw task with a relative path', { ...raw, path: 'x.bin' }, /^invalid task message: path: /],
    ['a body that is not JSON', '{', /^invalid task message: body is not JSON/],
  ])('refuses %s, naming the field', (_, task, message) => {
    // Prepare
    const body = typeof task === 'string' ? task : JSON.stringify(task);
    // Act
    const act = () => parseTaskMessage(body);
    // Assess
    expect(act).toThrow(message);
  });
});
