/** Errors of the import side (chain, plan, apply). Each names the bundle, the entry and why. */
import type { Digest } from '../../digest.ts';
import { FerryError } from '../../errors.ts';
import type { ResendRequestDocument } from '../receipts/codec.ts';

/** The base of the import side's errors. */
export class ImportError extends FerryError {
  override readonly name: string = 'ImportError';
}

/** The bundle is not the next one in its chain. */
export class SequenceError extends ImportError {
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
export class BundleRefusedError extends ImportError {
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
export class EntryUploadError extends ImportError {
  override readonly name = 'EntryUploadError';
  constructor(index: number, entry: string, options: { cause: unknown }) {
    super(`entries[${index}] ${entry}: upload failed: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

/** Some entries of a bundle could not be applied (the network, a target that changed since the plan); the rest were, and a re-run resumes. */
export class EntriesNotAppliedError extends ImportError {
  override readonly name = 'EntriesNotAppliedError';
  readonly failures: { index: number; entry: string; reason: string }[];
  constructor(where: string, failures: { index: number; entry: string; reason: string }[]) {
    super(
      `${where}: ${failures.length} entr${failures.length === 1 ? 'y' : 'ies'} could not be imported; the rest were, and a re-run resumes:\n` +
        failures.map((f) => `  - entries[${f.index}] ${f.entry}: ${f.reason}`).join('\n'),
    );
    this.failures = failures;
  }
}

type LackingPart = { where: string; part: { blob: Digest; offset: number; length: number; digest: Digest; shippedIn: number }; carrier: string };

/**
 * Parts of split blobs are neither in a bundle given nor held from an earlier import: each
 * named (the first as the headline) so ops find the bundles. From an import,
 * `resendRequests` holds one document per bundle that completes such a blob, naming the whole
 * blobs (the caller signs and writes them): shipped again, they heal a lost part bundle.
 */
export class MissingPartError extends ImportError {
  override readonly name = 'MissingPartError';
  /** The bundle the first missing part keeps from being imported (the one that completes the blob). */
  readonly bundle: string;
  readonly blob: Digest;
  readonly offset: number;
  readonly shippedIn: number;
  readonly resendRequests: { bundle: string; request: ResendRequestDocument }[];
  constructor(lacking: readonly LackingPart[], resendRequests: { bundle: string; request: ResendRequestDocument }[] = []) {
    const line = ({ where, part, carrier }: LackingPart) =>
      `${where}: blob ${part.blob}: part at offset ${part.offset} (${part.length} bytes, ${part.digest}) is missing: it travels in bundle sequence ${part.shippedIn} (${carrier})`;
    const [first, ...more] = lacking;
    super(
      `${line(first!)}; import that bundle first or together with this one` +
        (resendRequests.length === 0 ? '' : `, or carry back the resend request${resendRequests.length > 1 ? 's' : ''}`) +
        more.map((m) => `\n${line(m)}`).join(''),
    );
    this.bundle = first!.where;
    this.blob = first!.part.blob;
    this.offset = first!.part.offset;
    this.shippedIn = first!.part.shippedIn;
    this.resendRequests = resendRequests;
  }
}

/** Every resend request a refusal carries, with the bundle each is for (none when it names no missing blob). */
export function resendRequestsOf(refusal: BundleRefusedError | MissingPartError): { bundle: string; request: ResendRequestDocument }[] {
  if (refusal instanceof MissingPartError) return refusal.resendRequests;
  return refusal.resendRequest === undefined ? [] : [{ bundle: refusal.bundle, request: refusal.resendRequest }];
}

/** The parts of a split blob, each verified, do not put together into the blob the manifest names. */
export class AssembledBlobMismatchError extends ImportError {
  override readonly name = 'AssembledBlobMismatchError';
  constructor(where: string, blob: Digest, detail: string, options?: ErrorOptions) {
    super(`${where}: blob ${blob} put together from its parts: ${detail}`, options);
  }
}
