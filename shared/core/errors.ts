/** Errors of the core's export and import flows. Each names what failed and where. */
import type { Digest } from '../digest.ts';
import type { ResendRequestDocument } from './receipt.ts';

/** An entry whose blob alone is bigger than the bundle size cap: it cannot be sealed. */
export class OversizedEntryError extends Error {
  override readonly name = 'OversizedEntryError';
  readonly repository: string;
  readonly path: string;
  constructor(repository: string, path: string, size: number, maxBytes: number) {
    super(`${repository}${path}: ${size} bytes does not fit in a bundle of at most ${maxBytes} bytes; raise bundles.maxBytes`);
    this.repository = repository;
    this.path = path;
  }
}

/** A source asset whose path a target Nexus would refuse or rewrite: it cannot be carried. */
export class UncarriablePathError extends Error {
  override readonly name = 'UncarriablePathError';
  constructor(repository: string, path: string, problems: string[]) {
    super(`${repository}${JSON.stringify(path).slice(1, -1)}: not carried: the path ${problems.join(', ')} (a target Nexus would refuse or rewrite it)`);
  }
}

/** A configured repository that the source does not have, or has in another format. */
export class SourceMismatchError extends Error {
  override readonly name = 'SourceMismatchError';
  readonly repository: string;
  constructor(repository: string, problem: string) {
    super(`${repository}: ${problem}`);
    this.repository = repository;
  }
}

/** The bundle is not the next one in its chain. */
export class SequenceError extends Error {
  override readonly name = 'SequenceError';
  readonly missingSequence: number | undefined;
  constructor(message: string, missingSequence?: number) {
    super(message);
    this.missingSequence = missingSequence;
  }
}

/** An entry the target would not accept, found before the first write. */
export interface EntryRefusal {
  index: number;
  /** `raw-a/dir/x.bin` or `docker-hosted/team/app:1.0` (the mapped target coordinates). */
  entry: string;
  reason: string;
}

/** A blob the bundle needs that neither this side holds nor the target has. */
export interface MissingBlob {
  digest: Digest;
  size: number;
  /** The bundle that shipped it, or 0 when a receipt said the far side held it. */
  shippedIn: number;
  neededBy: { index: number; entry: string }[];
}

/**
 * A bundle refused as a whole before any write: entries the target would not accept, and
 * blobs nobody has. When blobs are missing, `resendRequest` is the document to carry back
 * (the caller signs and writes it).
 */
export class BundleRefusedError extends Error {
  override readonly name = 'BundleRefusedError';
  readonly bundle: string;
  readonly refusals: EntryRefusal[];
  readonly missing: MissingBlob[];
  readonly resendRequest: ResendRequestDocument | undefined;
  constructor(bundle: string, refusals: EntryRefusal[], missing: MissingBlob[], resendRequest?: ResendRequestDocument) {
    const lines = [
      ...refusals.map((r) => `  - entries[${r.index}] ${r.entry}: ${r.reason}`),
      ...missing.map(
        (m) =>
          `  - blob ${m.digest} is neither held here nor on the target; ${shippedInWords(m.shippedIn)}; needed by ` +
          m.neededBy.map((n) => `entries[${n.index}] ${n.entry}`).join(', '),
      ),
    ];
    super(`${bundle}: refused before any write, the target is unchanged (${refusals.length + missing.length} problem(s)):\n${lines.join('\n')}`);
    this.bundle = bundle;
    this.refusals = refusals;
    this.missing = missing;
    this.resendRequest = resendRequest;
  }
}

/** Where a missing blob should have come from, in words an operator acts on. */
export function shippedInWords(sequence: number): string {
  return sequence === 0
    ? 'a receipt said this side held it'
    : `it was shipped in bundle sequence ${sequence} (import that bundle first, or carry back the resend request)`;
}

/** An upload the target refused or that failed after its retries, named by entry. */
export class EntryUploadError extends Error {
  override readonly name = 'EntryUploadError';
  constructor(index: number, entry: string, options: { cause: unknown }) {
    super(`entries[${index}] ${entry}: upload failed: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

/** Some copy tasks could not be completed after their retries (the embedded dead-letter queue). */
export class ExportIncompleteError extends Error {
  override readonly name = 'ExportIncompleteError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Some images of a bundle could not be imported; the others were. The bundle stays open. */
export class ImageImportError extends Error {
  override readonly name = 'ImageImportError';
  readonly failures: { image: string; reason: string }[];
  constructor(where: string, failures: { image: string; reason: string }[]) {
    super(
      `${where}: ${failures.length} image(s) could not be imported; the rest were, and a re-run resumes:\n` +
        failures.map((f) => `  - ${f.image}: ${f.reason}`).join('\n'),
    );
    this.failures = failures;
  }
}

/** A receipt file that cannot be trusted or read: `where` is its file name, first in the message. */
export class ReceiptError extends Error {
  override readonly name = 'ReceiptError';
  readonly where: string;
  constructor(where: string, problem: string, options?: { cause?: unknown }) {
    super(`${where}: ${problem}`, options);
    this.where = where;
  }
}
