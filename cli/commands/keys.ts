/** `ferry keys generate`: a signing key pair for bundles (export side) or receipts (import side). */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateSigningKeyPair, type SigningAlgorithm } from '../../shared/signing.ts';
import { makeOutput } from '../output.ts';
import { UsageError } from '../usage.ts';

export async function keysGenerateCommand(options: { out: string; name: string; algorithm: SigningAlgorithm }): Promise<void> {
  const out = makeOutput();
  if (!/^[A-Za-z0-9._-]+$/.test(options.name)) throw new UsageError(`--name: ${JSON.stringify(options.name)} is not a plain file name`);
  const pair = generateSigningKeyPair(options.algorithm);
  await mkdir(options.out, { recursive: true });
  const privateFile = path.join(options.out, `${options.name}.key`);
  const publicFile = path.join(options.out, `${options.name}.pub`);
  try {
    // 'wx': never overwrite a key someone may already trust.
    await writeFile(privateFile, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(publicFile, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${(error as NodeJS.ErrnoException).path}: already exists; refusing to overwrite a key`);
    throw error;
  }
  out.line(`private key ${privateFile} (keep it on the export side)`);
  out.line(`public key  ${publicFile} (give it to the import side: trust.publicKeyFiles)`);
  out.line(`key id      ${pair.keyId}`);
}
