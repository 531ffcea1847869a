import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  parseSignature,
  serializeSignature,
  signDetached,
  verifyDetached,
  type DetachedSignature,
  type SigningAlgorithm,
} from '../shared/signing.ts';
import { KeyLoadError, SignatureError } from '../shared/signing-errors.ts';

const payload = Buffer.from('{"format":"ferry.bundle.v1"}\n');

function keys(algorithm: SigningAlgorithm) {
  const pair = generateSigningKeyPair(algorithm);
  return { ...pair, privateKey: createPrivateKey(pair.privateKeyPem), publicKey: createPublicKey(pair.publicKeyPem) };
}

function signatureError(run: () => unknown): SignatureError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureError);
    return error as SignatureError;
  }
  throw new Error('expected a SignatureError');
}

describe('detached signatures', () => {
  for (const algorithm of ['ed25519', 'ecdsa-p256-sha256'] as const) {
    it(`signs and verifies with ${algorithm}`, () => {
      // Prepare
      const { privateKey, publicKey, keyId } = keys(algorithm);

      // Act
      const signature = signDetached(payload, privateKey);
      const result = verifyDetached(payload, signature, [publicKey]);

      // Assess
      expect(signature).toMatchObject({ format: 'ferry.signature.v1', algorithm, keyId });
      expect(result).toEqual({ keyId });
    });

    it(`refuses a tampered payload with ${algorithm}`, () => {
      // Prepare
      const { privateKey, publicKey } = keys(algorithm);
      const signature = signDetached(payload, privateKey);
      const tampered = Buffer.from(payload);
      tampered[3] = (tampered[3] ?? 0) ^ 1;

      // Act
      const error = signatureError(() => verifyDetached(tampered, signature, [publicKey]));

      // Assess
      expect(error.code).toBe('BAD_SIGNATURE');
      expect(error.message).toContain(signature.keyId);
    });
  }

  it('refuses a signature by a key that is not trusted, naming the key id', () => {
    // Prepare
    const signer = keys('ed25519');
    const other = keys('ed25519');
    const signature = signDetached(payload, signer.privateKey);

    // Act
    const error = signatureError(() => verifyDetached(payload, signature, [other.publicKey]));

    // Assess
    expect(error.code).toBe('UNKNOWN_KEY');
    expect(error.message).toContain(signer.keyId);
  });

  it('refuses a signature whose key id was rewritten to a trusted key', () => {
    // Prepare
    const signer = keys('ed25519');
    const trusted = keys('ed25519');
    const forged = { ...signDetached(payload, signer.privateKey), keyId: trusted.keyId };

    // Act
    const error = signatureError(() => verifyDetached(payload, forged, [trusted.publicKey]));

    // Assess
    expect(error.code).toBe('BAD_SIGNATURE');
  });

  it('refuses a signature whose bytes were altered', () => {
    // Prepare
    const { privateKey, publicKey } = keys('ecdsa-p256-sha256');
    const signature = signDetached(payload, privateKey);
    const bytes = Buffer.from(signature.signature, 'base64');
    bytes[10] = (bytes[10] ?? 0) ^ 0xff;
    const altered = { ...signature, signature: bytes.toString('base64') };

    // Act
    const error = signatureError(() => verifyDetached(payload, altered, [publicKey]));

    // Assess
    expect(error.code).toBe('BAD_SIGNATURE');
  });

  it('refuses malformed signature documents, naming the field', () => {
    // Prepare
    const { privateKey, publicKey } = keys('ed25519');
    const good = signDetached(payload, privateKey);
    const broken = [
      { ...good, format: 'other' },
      { ...good, algorithm: 'rsa' },
      { ...good, keyId: 'abc' },
      { ...good, signature: 'not base64!' },
    ] as unknown as DetachedSignature[];

    // Act
    const errors = broken.map((signature) => signatureError(() => verifyDetached(payload, signature, [publicKey])));

    // Assess
    expect(errors.map((error) => error.code)).toEqual(Array(4).fill('MALFORMED_SIGNATURE'));
    expect(errors.map((error) => error.message.split(': ')[1])).toEqual(['format', 'algorithm', 'keyId', 'signature']);
  });

  it('round-trips a signature document through its stored bytes', () => {
    // Prepare
    const { privateKey, publicKey } = keys('ecdsa-p256-sha256');
    const signature = signDetached(payload, privateKey);

    // Act
    const parsed = parseSignature(serializeSignature(signature), 'ferry/manifest.sig');

    // Assess
    expect(parsed).toEqual(signature);
    expect(verifyDetached(payload, parsed, [publicKey]).keyId).toBe(signature.keyId);
    expect(() => parseSignature(Buffer.from('{'), 'ferry/manifest.sig')).toThrow(/ferry\/manifest.sig: malformed signature/);
  });

  it('gives private and public halves the same key id, the sha256 of the SPKI DER', () => {
    // Prepare
    const { privateKey, publicKey, keyId } = keys('ed25519');

    // Act
    const ids = [keyIdOf(privateKey), keyIdOf(publicKey)];

    // Assess
    expect(ids).toEqual([keyId, keyId]);
    expect(keyId).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('verifies an ECDSA DER signature made outside Ferry (as a KMS would)', async () => {
    // Prepare
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { sign } = await import('node:crypto');
    const der = sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' });
    const signature: DetachedSignature = {
      format: 'ferry.signature.v1',
      algorithm: 'ecdsa-p256-sha256',
      keyId: keyIdOf(publicKey),
      signature: der.toString('base64'),
    };

    // Act
    const result = verifyDetached(payload, signature, [publicKey]);

    // Assess
    expect(result.keyId).toBe(keyIdOf(publicKey));
  });
});

describe('key files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads PEM private and public keys that sign and verify together', async () => {
    // Prepare
    const pair = generateSigningKeyPair('ecdsa-p256-sha256');
    await writeFile(join(dir, 'signing.pem'), pair.privateKeyPem);
    await writeFile(join(dir, 'signing.pub.pem'), pair.publicKeyPem);

    // Act
    const privateKey = await loadPrivateKey(join(dir, 'signing.pem'));
    const publicKey = await loadPublicKey(join(dir, 'signing.pub.pem'));

    // Assess
    expect(keyIdOf(privateKey)).toBe(pair.keyId);
    expect(verifyDetached(payload, signDetached(payload, privateKey), [publicKey]).keyId).toBe(pair.keyId);
  });

  it('names the file but never its content when a key cannot be loaded', async () => {
    // Prepare
    const secret = 'not-a-key-but-secret-material';
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pair = generateSigningKeyPair();
    await writeFile(join(dir, 'garbage.pem'), secret);
    await writeFile(join(dir, 'rsa.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(join(dir, 'private-as-public.pem'), pair.privateKeyPem);

    // Act
    const failures = await Promise.all([
      loadPrivateKey(join(dir, 'garbage.pem')).catch((error: unknown) => error),
      loadPrivateKey(join(dir, 'missing.pem')).catch((error: unknown) => error),
      loadPrivateKey(join(dir, 'rsa.pem')).catch((error: unknown) => error),
      loadPublicKey(join(dir, 'private-as-public.pem')).catch((error: unknown) => error),
    ]);

    // Assess
    const files = ['garbage.pem', 'missing.pem', 'rsa.pem', 'private-as-public.pem'];
    failures.forEach((error, index) => {
      expect(error).toBeInstanceOf(KeyLoadError);
      expect((error as Error).message).toContain(join(dir, files[index] ?? ''));
      expect((error as Error).message).not.toContain(secret);
      expect((error as Error).message).not.toContain('BEGIN');
    });
    expect((failures[1] as Error).message).toContain('ENOENT');
    expect((failures[3] as Error).message).toContain('private key');
  });
});
