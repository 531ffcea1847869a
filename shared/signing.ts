/**
 * Detached signatures over exact bytes (a bundle's manifest, a receipt). The signature
 * document names its algorithm and the id of the key that made it, so a verifier picks
 * the right trusted key without trying them all, and a signer that lives elsewhere (a KMS
 * producing ECDSA P-256 DER signatures) yields documents the same verifier accepts.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KeyLoadError, SignatureError, UnsupportedKeyError } from './signing-errors.ts';

export { KeyLoadError, SignatureError, UnsupportedKeyError } from './signing-errors.ts';

export type SigningAlgorithm = 'ed25519' | 'ecdsa-p256-sha256';

export const SIGNATURE_FORMAT = 'ferry.signature.v1';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ed25519', 'ecdsa-p256-sha256'];

export interface DetachedSignature {
  format: typeof SIGNATURE_FORMAT;
  algorithm: SigningAlgorithm;
  /** `sha256:<hex>` of the DER SubjectPublicKeyInfo of the signing key's public half. */
  keyId: string;
  /** Base64 of the raw ed25519 signature, or of the DER-encoded ECDSA signature. */
  signature: string;
}

const KEY_ID = /^sha256:[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PRIVATE_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

export function generateSigningKeyPair(algorithm: SigningAlgorithm = 'ed25519'): {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
} {
  const { privateKey, publicKey } =
    algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** The algorithm a key signs with, or undefined when Ferry does not support the key. */
export function algorithmOf(key: KeyObject): SigningAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  return undefined;
}

function requireAlgorithm(key: KeyObject): SigningAlgorithm {
  const algorithm = algorithmOf(key);
  if (algorithm === undefined) {
    const kind = key.asymmetricKeyType ?? key.type;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new UnsupportedKeyError(
      `unsupported signing key (${kind}${curve ? ` ${curve}` : ''}); use ed25519 or ECDSA P-256`,
    );
  }
  return algorithm;
}

/** Key id of a key pair, computed from its public half, so private and public keys agree. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KeyLoadError(file, `cannot be read${code ? ` (${code})` : ''}`, { cause: error });
  }
}

/** Loads a PEM private key (PKCS#8, or SEC1 for EC). Errors name the file, never its content. */
export async function loadPrivateKey(file: string): Promise<KeyObject> {
  const text = await readKeyFile(file);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    // The crypto error does not quote the input, but keep only its generic reason anyway.
    throw new KeyLoadError(file, 'is not a PEM private key', { cause: new Error((error as Error).message) });
  }
  if (algorithmOf(key) === undefined) throw new KeyLoadError(file, 'holds a key that is neither ed25519 nor ECDSA P-256');
  return key;
}

/** Loads a PEM public key (SPKI). Refuses a private key file so a trust store never holds one. */
export async function loadPublicKey(file: string): Promise<KeyObject> {
  const text = await readKeyFile(file);
  if (PRIVATE_PEM.test(text)) throw new KeyLoadError(file, 'holds a private key; give the public key (SPKI PEM) instead');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (error) {
    throw new KeyLoadError(file, 'is not a PEM public key', { cause: new Error((error as Error).message) });
  }
  if (algorithmOf(key) === undefined) throw new KeyLoadError(file, 'holds a key that is neither ed25519 nor ECDSA P-256');
  return key;
}

export function signDetached(payload: Uint8Array, privateKey: KeyObject): DetachedSignature {
  if (privateKey.type !== 'private') throw new UnsupportedKeyError('signing needs a private key');
  const algorithm = requireAlgorithm(privateKey);
  const signature =
    algorithm === 'ed25519'
      ? sign(null, payload, privateKey)
      : sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' });
  return { format: SIGNATURE_FORMAT, algorithm, keyId: keyIdOf(privateKey), signature: signature.toString('base64') };
}

/**
 * Whatever signs bundles and receipts: a local private key here, a KMS key in AWS. The
 * result is the same detached signature either way, so verifiers need not know which.
 */
export interface Signer {
  readonly keyId: string;
  readonly algorithm: SigningAlgorithm;
  sign(payload: Uint8Array): Promise<DetachedSignature>;
}

/** A {@link Signer} over a private key held in this process. */
export function localSigner(privateKey: KeyObject): Signer {
  const probe = signDetached(Buffer.alloc(0), privateKey);
  return { keyId: probe.keyId, algorithm: probe.algorithm, sign: async (payload) => signDetached(payload, privateKey) };
}

/**
 * Checks `signature` over the exact `payload` bytes against the trusted keys. Only a key
 * whose id matches is tried, and it must be of the algorithm the signature claims.
 */
export function verifyDetached(
  payload: Uint8Array,
  signature: DetachedSignature,
  trustedKeys: KeyObject[],
): { keyId: string } {
  const problem = signatureShapeProblem(signature);
  if (problem !== undefined) throw new SignatureError('MALFORMED_SIGNATURE', `malformed signature: ${problem}`);
  const key = trustedKeys.find((candidate) => keyIdOf(candidate) === signature.keyId);
  if (key === undefined) {
    throw new SignatureError(
      'UNKNOWN_KEY',
      `signed by unknown key ${signature.keyId} (trusted: ${trustedKeys.map(keyIdOf).join(', ') || 'none'})`,
      signature.keyId,
    );
  }
  const algorithm = algorithmOf(key);
  if (algorithm !== signature.algorithm) {
    throw new SignatureError(
      'ALGORITHM_MISMATCH',
      `signature claims ${signature.algorithm} but key ${signature.keyId} is ${algorithm ?? 'unsupported'}`,
      signature.keyId,
    );
  }
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const bytes = Buffer.from(signature.signature, 'base64');
  let ok: boolean;
  try {
    ok =
      algorithm === 'ed25519'
        ? verify(null, payload, publicKey, bytes)
        : verify('sha256', payload, { key: publicKey, dsaEncoding: 'der' }, bytes);
  } catch (error) {
    ok = false;
    void error;
  }
  if (!ok) throw new SignatureError('BAD_SIGNATURE', `bad signature by key ${signature.keyId}`, signature.keyId);
  return { keyId: signature.keyId };
}

function signatureShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  if (record.format !== SIGNATURE_FORMAT) return `format: expected ${JSON.stringify(SIGNATURE_FORMAT)}`;
  if (typeof record.algorithm !== 'string' || !(SIGNING_ALGORITHMS as readonly string[]).includes(record.algorithm)) {
    return `algorithm: expected one of ${SIGNING_ALGORITHMS.join(', ')}`;
  }
  if (typeof record.keyId !== 'string' || !KEY_ID.test(record.keyId)) return "keyId: expected 'sha256:' and 64 lowercase hex digits";
  if (typeof record.signature !== 'string' || record.signature.length === 0 || !BASE64.test(record.signature)) {
    return 'signature: expected non-empty base64';
  }
  const extra = Object.keys(record).filter((key) => !['format', 'algorithm', 'keyId', 'signature'].includes(key));
  if (extra.length > 0) return `unexpected field ${extra[0]}`;
  return undefined;
}

/** The exact bytes Ferry stores a signature as (`ferry/manifest.sig`): compact JSON and a newline. */
export function serializeSignature(signature: DetachedSignature): Buffer {
  const { format, algorithm, keyId, signature: value } = signature;
  return Buffer.from(`${JSON.stringify({ format, algorithm, keyId, signature: value })}\n`, 'utf8');
}

/** Parses a stored signature document; `where` names it in the error. */
export function parseSignature(bytes: Uint8Array, where: string): DetachedSignature {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new SignatureError('MALFORMED_SIGNATURE', `${where}: malformed signature: not valid JSON`, undefined, { cause: error });
  }
  const problem = signatureShapeProblem(value);
  if (problem !== undefined) throw new SignatureError('MALFORMED_SIGNATURE', `${where}: malformed signature: ${problem}`);
  return value as DetachedSignature;
}
