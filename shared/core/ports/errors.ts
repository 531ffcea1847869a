/**
 * The errors the ports promise (see ports.ts). Every adapter (embedded, AWS, the in-memory
 * fakes) raises these same classes, so the core and the contract suites in
 * `test/contracts/` handle any adapter alike.
 */

/** A blob was asked for that the store does not hold. */
export class BlobNotFoundError extends Error {
  override readonly name = 'BlobNotFoundError';
  readonly digest: string;
  constructor(digest: string, location: string, options?: { cause?: unknown }) {
    super(`blob ${digest} not found (looked at ${location})`, options);
    this.digest = digest;
  }
}

/** A value that should be an OCI sha256 digest is not one (it would otherwise become a path). */
export class InvalidDigestError extends Error {
  override readonly name = 'InvalidDigestError';
  constructor(what: string, value: string) {
    super(`${what}: not a sha256 digest: ${JSON.stringify(value)}`);
  }
}

/** A bundle name that could escape the bundles directory or is otherwise unusable as a file name. */
export class InvalidBundleNameError extends Error {
  override readonly name = 'InvalidBundleNameError';
  readonly bundleName: string;
  constructor(bundleName: string, reason: string) {
    super(`invalid bundle name ${JSON.stringify(bundleName)}: ${reason}`);
    this.bundleName = bundleName;
  }
}

/**
 * A recorded bundle cannot be published: its staged copy (with the recorded digest) is gone
 * and it is not in the outbox either. The sequence names one bundle forever, so Ferry does
 * not seal it again with other bytes; the operator has to restore the staged file.
 */
export class BundleNotStagedError extends Error {
  override readonly name = 'BundleNotStagedError';
  readonly bundleName: string;
  constructor(bundleName: string, digest: string, looked: string) {
    super(`bundle ${bundleName} (${digest}) was sealed and recorded but is neither staged nor published (looked at ${looked})`);
    this.bundleName = bundleName;
  }
}

/** A bundle was sealed out of order: its sequence is not exactly one past the last one. */
export class SequenceConflictError extends Error {
  override readonly name = 'SequenceConflictError';
  readonly sourceId: string;
  readonly expected: number;
  readonly got: number;
  constructor(sourceId: string, expected: number, got: number) {
    super(`bundle sequence conflict for source ${JSON.stringify(sourceId)}: expected ${expected}, got ${got}`);
    this.sourceId = sourceId;
    this.expected = expected;
    this.got = got;
  }
}

/** A seal named entries that are not pending (already sealed, or never recorded). */
export class EntryNotPendingError extends Error {
  override readonly name = 'EntryNotPendingError';
  readonly seqs: number[];
  constructor(bundleSequence: number, seqs: number[]) {
    super(`cannot seal bundle ${bundleSequence}: entries ${seqs.join(', ')} are not pending`);
    this.seqs = seqs;
  }
}

/** A timestamp (watermark, checkpoint) that does not parse as an instant. */
export class InvalidTimestampError extends Error {
  override readonly name = 'InvalidTimestampError';
  constructor(what: string, value: string) {
    super(`${what}: not an ISO 8601 instant: ${JSON.stringify(value)}`);
  }
}
