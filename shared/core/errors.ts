/** Errors of the core's export and import flows. Each names what failed and where. */
import type { Digest } from '../digest.ts';

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

/** The bundle is not the next one in its chain. */
export class SequenceError extends Error {
  override readonly name = 'SequenceError';
  readonly missingSequence: number | undefined;
  constructor(message: string, missingSequence?: number) {
    super(message);
    this.missingSequence = missingSequence;
  }
}

/** The bundle needs blobs that neither this side holds nor the target has. */
export class MissingBlobError extends Error {
  override readonly name = 'MissingBlobError';
  readonly missing: { digest: Digest; shippedIn: number; needs: string }[];
  constructor(missing: { digest: Digest; shippedIn: number; needs: string }[], where: string) {
    super(
      `${where}: ${missing.length} required blob(s) are neither held here nor on the target:\n` +
        missing
          .map((m) => `  - ${m.digest} (${m.shippedIn === 0 ? 'held by this side according to a receipt' : `shipped in bundle sequence ${m.shippedIn}`}), needed by ${m.needs}`)
          .join('\n'),
    );
    this.missing = missing;
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
