/**
 * Hands a response body to a consumer through a {@link HashingStream}, and sorts out what
 * went wrong afterwards: content that failed verification (refused, never retried), a
 * transport failure of the body (worth a retry), or the consumer's own failure (passed
 * through). Shared by the Nexus and registry clients, whose downloads differ only in what
 * they verify and how they name their errors.
 */
import type { Readable } from 'node:stream';
import { ChecksumMismatchError, HashingStream, SizeMismatchError } from '../digest.ts';
import { errorCode, TRANSIENT_CODES } from './retry.ts';

export interface VerifiedBodyErrors {
  /** The content did not match: wrap the mismatch in the client's own error. */
  mismatch(cause: Error): Error;
  /** The body broke off with a transient code: the client's network error, so it is retried. */
  transport(code: string, cause: unknown): Error;
  /** Names the content when the consumer stops early. */
  what: string;
}

export async function consumeVerified<T>(
  body: Readable,
  hashing: HashingStream,
  consume: (body: Readable) => Promise<T>,
  errors: VerifiedBodyErrors,
): Promise<T> {
  // Wired by hand rather than with pipeline(): a consumer's own failure must not be
  // mistaken for a transport failure of the body (pipeline would push it upstream).
  let transportError: unknown;
  let verifyError: Error | undefined;
  body.on('error', (error) => {
    transportError ??= error;
    hashing.destroy(error);
  });
  hashing.on('error', (error) => {
    if (error instanceof ChecksumMismatchError || error instanceof SizeMismatchError) verifyError ??= error;
  });
  hashing.on('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(hashing);

  const transportFailure = (): Error | undefined => {
    const code = errorCode(transportError);
    return code !== undefined && TRANSIENT_CODES.has(code) ? errors.transport(code, transportError) : undefined;
  };
  let result: T;
  try {
    result = await consume(hashing);
  } catch (error) {
    if (verifyError) throw errors.mismatch(verifyError);
    throw transportFailure() ?? error;
  } finally {
    if (!body.destroyed) body.destroy();
  }
  if (verifyError) throw errors.mismatch(verifyError);
  const failure = transportFailure();
  if (failure) throw failure;
  if (!hashing.readableEnded) throw new Error(`${errors.what}: consume returned before reading the body to its end; content not verified`);
  return result;
}

/** The first `limit` bytes of an error response, for its message; the rest is discarded. */
export async function bodyExcerpt(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= limit) break;
    }
  } catch {
    // The status is what matters; a body that breaks off adds nothing.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
