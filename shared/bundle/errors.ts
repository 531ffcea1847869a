/**
 * Errors of the bundle module, all {@link BundleError}s: a bundle refused while being read
 * or verified, a manifest document that breaks the schema ({@link ManifestError}), or
 * sealing that failed ({@link BundleWriteError}). A refused bundle's message always starts
 * with `bundle <file name>:` and, when one member is at fault, `member <name>:`, so an
 * operator knows which file and which part of it failed.
 */
import { FerryError } from '../errors.ts';

export type BundleErrorCode =
  | 'UNSAFE_PATH'
  | 'NON_REGULAR_MEMBER'
  | 'UNKNOWN_MEMBER'
  | 'DUPLICATE_MEMBER'
  | 'MEMBER_OUT_OF_ORDER'
  | 'MISSING_MEMBER'
  | 'MEMBER_TOO_LARGE'
  | 'INVALID_LAYOUT'
  | 'INDEX_MISMATCH'
  | 'BAD_SIGNATURE'
  | 'INVALID_MANIFEST'
  | 'BLOB_MISMATCH'
  | 'UNLISTED_BLOB'
  | 'MISSING_BLOB'
  | 'MALFORMED_TAR'
  | BundleWriteErrorCode;

/** Why sealing failed ({@link BundleWriteError}). */
export type BundleWriteErrorCode = 'INVALID_MANIFEST' | 'STAGED_BLOB_MISMATCH' | 'STAGED_BLOB_UNAVAILABLE';

export interface BundleErrorOptions extends ErrorOptions {
  /** How the message names the bundle: `bundle <file name>` unless given (sealing says `sealing <name>`). */
  at?: string;
}

/**
 * The base of the bundle module's errors; constructed as is, a bundle refused while being
 * read or verified.
 */
export class BundleError extends FerryError {
  override readonly name: string = 'BundleError';
  readonly code: BundleErrorCode;
  /** The bundle's file name (what the caller passed as `where`), or what names the document at fault. */
  readonly bundle: string;
  /** The tar member at fault, when there is one. */
  readonly member: string | undefined;
  constructor(code: BundleErrorCode, bundle: string, member: string | undefined, detail: string, options?: BundleErrorOptions) {
    const { at = `bundle ${bundle}`, ...errorOptions } = options ?? {};
    super(`${at}: ${member !== undefined ? `member ${member}: ` : ''}${detail}`, errorOptions);
    this.code = code;
    this.bundle = bundle;
    this.member = member;
  }
}

/** Absolute path, `..` segment, backslash or NUL in a member name. */
export class UnsafeMemberPathError extends BundleError {
  override readonly name = 'UnsafeMemberPathError';
  constructor(bundle: string, member: string, detail: string) {
    super('UNSAFE_PATH', bundle, member, detail);
  }
}

/** Symlink, hardlink, directory, device, fifo: a bundle holds regular files only. */
export class NonRegularMemberError extends BundleError {
  override readonly name = 'NonRegularMemberError';
  constructor(bundle: string, member: string, type: string) {
    super('NON_REGULAR_MEMBER', bundle, member, `is a ${type}, not a regular file`);
  }
}

export class UnknownMemberError extends BundleError {
  override readonly name = 'UnknownMemberError';
  constructor(bundle: string, member: string) {
    super('UNKNOWN_MEMBER', bundle, member, 'is not part of the bundle format');
  }
}

export class DuplicateMemberError extends BundleError {
  override readonly name = 'DuplicateMemberError';
  constructor(bundle: string, member: string) {
    super('DUPLICATE_MEMBER', bundle, member, 'appears more than once');
  }
}

export class MemberOrderError extends BundleError {
  override readonly name = 'MemberOrderError';
  constructor(bundle: string, member: string, expected: string) {
    super('MEMBER_OUT_OF_ORDER', bundle, member, `out of order (expected ${expected} here)`);
  }
}

export class MissingMemberError extends BundleError {
  override readonly name = 'MissingMemberError';
  constructor(bundle: string, member: string) {
    super('MISSING_MEMBER', bundle, member, 'is missing');
  }
}

export class MemberTooLargeError extends BundleError {
  override readonly name = 'MemberTooLargeError';
  constructor(bundle: string, member: string, size: number, limit: number) {
    super('MEMBER_TOO_LARGE', bundle, member, `is ${size} bytes, more than the ${limit} allowed`);
  }
}

/** `oci-layout` or `index.json` is not what an OCI image layout requires. */
export class InvalidLayoutError extends BundleError {
  override readonly name = 'InvalidLayoutError';
  constructor(bundle: string, member: string, detail: string, options?: ErrorOptions) {
    super('INVALID_LAYOUT', bundle, member, detail, options);
  }
}

/** `index.json` does not hash to the digest the signed manifest names. */
export class IndexMismatchError extends BundleError {
  override readonly name = 'IndexMismatchError';
  constructor(bundle: string, expected: string, actual: string) {
    super('INDEX_MISMATCH', bundle, 'index.json', `sha256 mismatch with manifest layout.index (expected ${expected}, got ${actual})`);
  }
}

/** The manifest signature is malformed, by an untrusted key, or does not verify. Cause: the SignatureError. */
export class BundleSignatureError extends BundleError {
  override readonly name = 'BundleSignatureError';
  constructor(bundle: string, member: string, detail: string, options?: ErrorOptions) {
    super('BAD_SIGNATURE', bundle, member, detail, options);
  }
}

/** The signed manifest breaks the schema or a consistency rule. Cause: the ManifestError. */
export class InvalidManifestError extends BundleError {
  override readonly name = 'InvalidManifestError';
  constructor(bundle: string, member: string, detail: string, options?: ErrorOptions) {
    super('INVALID_MANIFEST', bundle, member, detail, options);
  }
}

/** A blob's bytes do not hash to its name, or its size differs from the manifest. */
export class BlobMismatchError extends BundleError {
  override readonly name = 'BlobMismatchError';
  constructor(bundle: string, member: string, detail: string, options?: ErrorOptions) {
    super('BLOB_MISMATCH', bundle, member, detail, options);
  }
}

export class UnlistedBlobError extends BundleError {
  override readonly name = 'UnlistedBlobError';
  constructor(bundle: string, member: string) {
    super('UNLISTED_BLOB', bundle, member, 'is not listed in the manifest blobs.included');
  }
}

export class MissingBlobError extends BundleError {
  override readonly name = 'MissingBlobError';
  constructor(bundle: string, member: string) {
    super('MISSING_BLOB', bundle, member, 'is listed in the manifest blobs.included but missing from the tar');
  }
}

/** Not a readable tar: truncated, corrupt header, trailing garbage. */
export class MalformedTarError extends BundleError {
  override readonly name: string = 'MalformedTarError';
  constructor(bundle: string, detail: string, options?: ErrorOptions) {
    super('MALFORMED_TAR', bundle, undefined, `not a valid tar (${detail})`, options);
  }
}

/**
 * The tar does not end as a tar must: it stops (at a member boundary or inside one) without
 * the end-of-archive marker of two zero blocks, or something other than zero padding follows
 * the first zero block. Tar readers disagree on such input, so a bundle is refused.
 */
export class TarEndError extends MalformedTarError {
  override readonly name = 'TarEndError';
  /** Byte offset in the input where the fault was found. */
  readonly offset: number;
  constructor(bundle: string, offset: number, detail: string) {
    super(bundle, detail);
    this.offset = offset;
  }
}

/** A manifest document breaks the schema or a consistency rule; lists every problem by field path. */
export class ManifestError extends BundleError {
  override readonly name = 'ManifestError';
  declare readonly code: 'INVALID_MANIFEST';
  /** What names the manifest, e.g. `manifest`. */
  readonly where: string;
  /** `field.path: message` for each problem. */
  readonly problems: string[];
  constructor(where: string, problems: string[], options?: ErrorOptions) {
    super('INVALID_MANIFEST', where, undefined, problems.join('; '), { ...options, at: where });
    this.where = where;
    this.problems = problems;
  }
}

/** Sealing failed: the manifest is invalid, or a staged blob is not what the manifest says. */
export class BundleWriteError extends BundleError {
  override readonly name = 'BundleWriteError';
  declare readonly code: BundleWriteErrorCode;
  readonly digest: string | undefined;
  constructor(
    code: BundleWriteErrorCode,
    bundle: string,
    digest: string | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(code, bundle, undefined, `${digest !== undefined ? `blob ${digest}: ` : ''}${detail}`, { ...options, at: `sealing ${bundle}` });
    this.digest = digest;
  }
}
