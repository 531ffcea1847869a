/**
 * Errors of `shared/signing.ts`. Messages name the key file or key id involved, never key
 * material: a PEM that failed to parse is not echoed.
 */

import { FerryError } from './errors.ts';

/** The base of signing's errors: a signature that does not check out, or a key Ferry cannot use. */
export class SigningError extends FerryError {
  override readonly name: string = 'SigningError';
}

export type SignatureErrorCode = 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'MALFORMED_SIGNATURE' | 'ALGORITHM_MISMATCH';

/** A detached signature did not check out against the trusted keys. */
export class SignatureError extends SigningError {
  override readonly name = 'SignatureError';
  readonly code: SignatureErrorCode;
  readonly keyId: string | undefined;
  constructor(code: SignatureErrorCode, message: string, keyId?: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.keyId = keyId;
  }
}

/** A key file could not be read, or does not hold a key of a supported kind. */
export class KeyLoadError extends SigningError {
  override readonly name = 'KeyLoadError';
  readonly file: string;
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`key file ${file}: ${reason}`, options);
    this.file = file;
  }
}

/** A key given to sign or verify is of an algorithm Ferry does not support. */
export class UnsupportedKeyError extends SigningError {
  override readonly name = 'UnsupportedKeyError';
}
