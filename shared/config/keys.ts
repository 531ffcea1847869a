/**
 * Key files named by a config are configuration: one that is missing, unreadable or holds no
 * usable key is a ConfigError naming the config file and the field, so the CLI exits 2
 * before anything starts. Messages name the key file, never its content.
 */
import type { KeyObject } from 'node:crypto';
import { KeyLoadError, loadPrivateKey, loadPublicKey } from '../signing.ts';
import { ConfigError } from './errors.ts';

/** Turns a key file problem into the caller's error: a ConfigError here, a usage error for a command-line option. */
export type KeyProblem = (problem: string, cause: KeyLoadError) => Error;

/** `cannot read /abs/x.pub (ENOENT)`, `/abs/x.pub is not a PEM public key`, … */
export function describeKeyProblem(error: KeyLoadError): string {
  const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return `cannot read ${error.file} (${code})`;
  return `${error.file} ${error.message.slice(`key file ${error.file}: `.length)}`;
}

async function loadKey(load: (file: string) => Promise<KeyObject>, file: string, fail: KeyProblem): Promise<KeyObject> {
  try {
    return await load(file);
  } catch (error) {
    if (!(error instanceof KeyLoadError)) throw error;
    throw fail(describeKeyProblem(error), error);
  }
}

export function loadPublicKeyOr(file: string, fail: KeyProblem): Promise<KeyObject> {
  return loadKey(loadPublicKey, file, fail);
}

const asConfigError = (configFile: string, field: string): KeyProblem => (problem, cause) => new ConfigError(configFile, [`${field}: ${problem}`], { cause });

/** The private key at `field` (e.g. `signing.privateKeyFile`) of `configFile`. */
export function loadConfiguredPrivateKey(configFile: string, field: string, file: string): Promise<KeyObject> {
  return loadKey(loadPrivateKey, file, asConfigError(configFile, field));
}

/** The public key at `field` of `configFile`. */
export function loadConfiguredPublicKey(configFile: string, field: string, file: string): Promise<KeyObject> {
  return loadKey(loadPublicKey, file, asConfigError(configFile, field));
}

/** The public keys of the list at `field` (e.g. `trust.publicKeyFiles`); one ConfigError names every bad entry. */
export async function loadConfiguredPublicKeys(configFile: string, field: string, files: string[]): Promise<KeyObject[]> {
  const results = await Promise.allSettled(files.map((file, index) => loadConfiguredPublicKey(configFile, `${field}[${index}]`, file)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  const unexpected = failures.find((failure) => !(failure instanceof ConfigError));
  if (unexpected !== undefined) throw unexpected;
  if (failures.length > 0) {
    const problems = (failures as ConfigError[]).flatMap((failure) => failure.problems);
    throw new ConfigError(configFile, problems, { cause: (failures[0] as ConfigError).cause });
  }
  return results.map((result) => (result as PromiseFulfilledResult<KeyObject>).value);
}
