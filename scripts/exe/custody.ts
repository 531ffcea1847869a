/**
 * What travels beside each executable so the isolated side can check it without running it:
 * `<file>.sha256` in sha256sum's format and `<file>.sig`, a detached signature over the exact
 * bytes of the file by a Ferry signing key, in the raw form standard tools read (ed25519: the
 * 64 signature bytes, for `openssl pkeyutl -verify -rawin`; ECDSA P-256: DER over the SHA-256,
 * for `openssl dgst -sha256 -verify`).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { signDetached, type SigningAlgorithm } from '../../shared/signing.ts';

export interface Custody {
  sha256: string;
  keyId: string;
  algorithm: SigningAlgorithm;
}

/** Writes `<file>.sha256` and `<file>.sig` (each in full, then renamed into place). */
export async function writeCustody(file: string, privateKey: KeyObject): Promise<Custody> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  const sha256 = hash.digest('hex');
  // Ed25519 signs the message itself, not a digest of it: the whole file (~130 MB) is read
  // into memory once, here on the build machine.
  const signature = signDetached(await readFile(file), privateKey);
  await writeAtomically(`${file}.sha256`, `${sha256}  ${path.basename(file)}\n`);
  await writeAtomically(`${file}.sig`, Buffer.from(signature.signature, 'base64'));
  return { sha256, keyId: signature.keyId, algorithm: signature.algorithm };
}

/** The command that checks `<file>.sig` with OpenSSL 3 and the signer's public key file. */
export function verifyCommand(algorithm: SigningAlgorithm, file: string, publicKeyFile = 'ferry.pub'): string {
  return algorithm === 'ed25519'
    ? `openssl pkeyutl -verify -pubin -inkey ${publicKeyFile} -rawin -in ${file} -sigfile ${file}.sig`
    : `openssl dgst -sha256 -verify ${publicKeyFile} -signature ${file}.sig ${file}`;
}

async function writeAtomically(file: string, content: string | Buffer): Promise<void> {
  await writeFile(`${file}.partial`, content);
  await rename(`${file}.partial`, file);
}
