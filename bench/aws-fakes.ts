/**
 * The AWS services the emulators lack, answered in-process as in test/deployed-flow.test.ts
 * (aws-sdk-client-mock): Secrets Manager (the webhook secret, Nexus credentials), KMS (a local
 * P-256 key signs; a DIGEST is signed by `openssl pkeyutl`, which node:crypto cannot do) and
 * Lambda's Invoke (copy's early seal). Every call is counted by the meter.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsMeter } from './aws-meter.ts';

export interface FakeAws {
  /** Trusted by the import side: the public half of the key every fake KMS key signs with. */
  publicKey: KeyObject;
  /** A secret the fake Secrets Manager answers for `arn`. */
  putSecret(arn: string, value: string): void;
  restore(): void;
}

export async function fakeAws(meter: AwsMeter, scratch: string): Promise<FakeAws> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(scratch, 'fake-kms-key.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const secretValues = new Map<string, string>();
  const secrets = mockClient(SecretsManagerClient);
  const kms = mockClient(KMSClient);
  const lambda = mockClient(LambdaClient);

  secrets.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    meter.record('secretsManager', 'GetSecretValue');
    const value = secretValues.get(input.SecretId);
    if (value === undefined) throw new Error(`fake Secrets Manager: no secret ${input.SecretId}`);
    return { ARN: input.SecretId, SecretString: value };
  });
  kms.on(GetPublicKeyCommand).callsFake((input: { KeyId: string }) => {
    meter.record('kms', 'GetPublicKey');
    return {
      KeyId: input.KeyId,
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['ECDSA_SHA_256'],
      PublicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    };
  });
  kms.on(SignCommand).callsFake((input: { KeyId: string; Message: Uint8Array; MessageType?: string }) => {
    meter.record('kms', 'Sign');
    const signature =
      input.MessageType === 'DIGEST'
        ? execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyFile], { input: Buffer.from(input.Message) })
        : sign('sha256', input.Message, { key: privateKey, dsaEncoding: 'der' });
    return { KeyId: input.KeyId, SigningAlgorithm: 'ECDSA_SHA_256', Signature: new Uint8Array(signature) };
  });
  lambda.on(InvokeCommand).callsFake(() => {
    meter.record('lambdaInvoke', 'Invoke');
    return { StatusCode: 202 };
  });

  return {
    publicKey,
    putSecret: (arn, value) => secretValues.set(arn, value),
    restore: () => {
      secrets.restore();
      kms.restore();
      lambda.restore();
    },
  };
}
