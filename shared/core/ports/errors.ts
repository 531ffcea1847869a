/**
 * The errors the ports promise (see index.ts), and the bases of the adapters' own errors.
 * Every adapter (embedded, AWS, the in-memory fakes) raises these same classes, so the core
 * and the contract suites in `test/contracts/` handle any adapter alike.
 */
import { FerryError } from '../../errors.ts';

/**
 * The base of the errors of Ferry's stored state: the state databases (export and import
 * state) and the object store (staged blobs, bundles). The errors below, and the adapters'
 * own (a schema too new, a failed DynamoDB or S3 call, a malformed item), are all StateErrors.
 */
export class StateError extends FerryError {
  override readonly name: string = 'StateError';
}

/**
 * The base of the task queue's errors (tasks not sent, refused, too large, a message that is
 * not a task). Apart from {@link StateError}: a queue failure means work was not handed on,
 * which callers answer differently (retry the enqueue, redeliver) from a store failure.
 */
export class TaskQueueError extends FerryError {
  override readonly name: string = 'TaskQueueError';
}

/** A blob was asked for that the store does not hold. */
export class BlobNotFoundError extends StateError {
  override readonly name = 'BlobNotFoundError';
  readonly digest: string;
  constructor(digest: string, location: string, options?: { cause?: unknown }) {
    super(`blob ${digest} not found (looked at ${location})`, options);
    this.digest = digest;
  }
}

/** A value that should be an OCI sha256 digest is not one (it would otherwise become a path). */
export class InvalidDigestError extends StateError {
  override readonly name = 'InvalidDigestError';
  constructor(what: string, value: string) {
    super(`${what}: not a sha256 digest: ${JSON.stringify(value)}`);
  }
}

/** A bundle name that could escape the bundles directory or is otherwise unusable as a file name. */
export class InvalidBundleNameError extends StateError {
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
export class BundleNotStagedError extends StateError {
  override readonly name = 'BundleNotStagedError';
  readonly bundleName: string;
  constructor(bundleName: string, digest: string, looked: string) {
    super(`bundle ${bundleName} (${digest}) was sealed and recorded but is neither staged nor published (looked at ${looked})`);
    this.bundleName = bundleName;
  }
}

/** A published bundle was asked for that the outbox does not hold. */
export class BundleNotFoundError extends StateError {
  override readonly name = 'BundleNotFoundError';
  readonly bundleName: string;
  constructor(bundleName: string, location: string, options?: { cause?: unknown }) {
    super(`bundle ${bundleName} not found (looked at ${location})`, options);
    this.bundleName = bundleName;
  }
}

/** A bundle was sealed out of order: its sequence is not exactly one past the last one. */
export class SequenceConflictError extends StateError {
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
export class EntryNotPendingError extends StateError {
  override readonly name = 'EntryNotPendingError';
  readonly seqs: number[];
  constructor(bundleSequence: number, seqs: number[]) {
    super(`cannot seal bundle ${bundleSequence}: entries ${seqs.join(', ')} are not pending`);
    this.seqs = seqs;
  }
}

/** A timestamp (watermark, checkpoint) that does not parse as an instant. */
export class InvalidTimestampError extends StateError {
  override readonly name = 'InvalidTimestampError';
  constructor(what: string, value: string) {
    super(`${what}: not an ISO 8601 instant: ${JSON.stringify(value)}`);
  }
}
