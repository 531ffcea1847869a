/**
 * A {@link Signer} whose private key never leaves AWS KMS: an asymmetric ECC_NIST_P256
 * key with usage SIGN_VERIFY. KMS returns DER-encoded ECDSA signatures, which is exactly
 * what a `ferry.signature.v1` document of algorithm `ecdsa-p256-sha256` carries, so
 * `verifyDetached` accepts them with the key's public half (`GetPublicKey`, SPKI DER).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { SIGNATURE_FORMAT, algorithmOf, keyIdOf, type DetachedSignature, type Signer } from '../../signing.ts';
import { KmsSignerError } from './errors.ts';

/** KMS signs a message of up to 4096 bytes itself; longer ones are sent as their digest. */
export const MAX_RAW_MESSAGE = 4096;

export interface KmsSignerOptions {
  client: KMSClient;
  /** Key id, ARN or alias of the KMS key. */
  keyId: string;
}

export class KmsSigner implements Signer {
  readonly algorithm = 'ecdsa-p256-sha256' as const;
  /** Ferry's key id: sha256 of the public key's SPKI DER (not the KMS key id). */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly client: KMSClient;
  readonly kmsKeyId: string;

  private constructor(client: KMSClient, kmsKeyId: string, publicKey: KeyObject) {
    this.client = client;
    this.kmsKeyId = kmsKeyId;
    this.publicKey = publicKey;
    this.keyId = keyIdOf(publicKey);
  }

  /** Fetches the public key once and checks the key can make Ferry signatures. */
  static async create(options: KmsSignerOptions): Promise<KmsSigner> {
    const { client, keyId } = options;
    let response;
    try {
      response = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    } catch (error) {
      throw new KmsSignerError(keyId, `GetPublicKey failed: ${(error as Error).message}`, { cause: error });
    }
    if (response.KeyUsage !== undefined && response.KeyUsage !== 'SIGN_VERIFY') {
      throw new KmsSignerError(keyId, `key usage is ${response.KeyUsage}, expected SIGN_VERIFY`);
    }
    if (response.SigningAlgorithms !== undefined && !response.SigningAlgorithms.includes('ECDSA_SHA_256')) {
      throw new KmsSignerError(keyId, `key does not sign with ECDSA_SHA_256 (it offers ${response.SigningAlgorithms.join(', ')})`);
    }
    if (response.PublicKey === undefined) throw new KmsSignerError(keyId, 'GetPublicKey returned no public key');
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(response.PublicKey), format: 'der', type: 'spki' });
    } catch (error) {
      throw new KmsSignerError(keyId, 'GetPublicKey returned a key that is not SPKI DER', { cause: error });
    }
    if (algorithmOf(publicKey) !== 'ecdsa-p256-sha256') {
      throw new KmsSignerError(keyId, `key spec is ${response.KeySpec ?? publicKey.asymmetricKeyType}, expected ECC_NIST_P256`);
    }
    return new KmsSigner(client, keyId, publicKey);
  }

  async sign(payload: Uint8Array): Promise<DetachedSignature> {
    const raw = payload.byteLength <= MAX_RAW_MESSAGE;
    let response;
    try {
      response = await this.client.send(
        new SignCommand({
          KeyId: this.kmsKeyId,
          Message: raw ? payload : createHash('sha256').update(payload).digest(),
          MessageType: raw ? 'RAW' : 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
    } catch (error) {
      throw new KmsSignerError(this.kmsKeyId, `Sign failed: ${(error as Error).message}`, { cause: error });
    }
    if (response.Signature === undefined || response.Signature.byteLength === 0) {
      throw new KmsSignerError(this.kmsKeyId, 'Sign returned no signature');
    }
    return {
      format: SIGNATURE_FORMAT,
      algorithm: this.algorithm,
      keyId: this.keyId,
      signature: Buffer.from(response.Signature).toString('base64'),
    };
  }
}
