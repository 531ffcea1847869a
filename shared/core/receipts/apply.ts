/**
 * What the export side does with a document carried back from the far side (`ferry receipt
 * apply`, embedded or serverless): the rule lives here, next to the codec, so both sides of
 * the CLI and any handler apply it alike.
 *
 * - A receipt of **another chain** (another export site importing into the same far side)
 *   tells which blobs the far side holds: they are recorded as held (sequence 0) and later
 *   bundles list them as required.
 * - A receipt of **this chain** at sequence N can only confirm what this chain shipped up
 *   to N. A blob it lists that this side never shipped by then is ignored with a warning:
 *   trusting it would make the next bundles require a blob that may never have crossed.
 * - A **resend request** names blobs the far side lacks though this side believed it held
 *   them: they leave the shipped ledger and the next seal carries them again.
 */
import type { Digest } from '../../digest.ts';
import { ReceiptError } from './errors.ts';
import type { ExportState, ResendRequest } from '../ports/index.ts';
import type { FarSideDocument, ResendRequestDocument } from './codec.ts';

export type ReceiptLedger = Pick<ExportState, 'shippedIn' | 'recordHeldBlobs' | 'requestResend'>;

export type ApplyOutcome =
  | { kind: 'receipt'; sequence: number; importedAt: string; held: number; recorded: number; ignored: Digest[] }
  | { kind: 'resend-request'; sequence: number; requested: number };

export async function applyFarSideDocument(ledger: ReceiptLedger, sourceId: string, document: FarSideDocument, where: string): Promise<ApplyOutcome> {
  if (document.kind === 'resend-request') return applyResendRequest(ledger, sourceId, document.request, where);
  const { receipt } = document;
  const digests = receipt.blobsHeld.map((b) => b.digest);
  const before = await Promise.all(digests.map((d) => ledger.shippedIn(d)));
  const base = { kind: 'receipt' as const, sequence: receipt.bundle.sequence, importedAt: receipt.importedAt, held: digests.length };
  if (receipt.sourceId !== sourceId) {
    // Content-addressed: what the far side holds counts whichever chain brought it.
    await ledger.recordHeldBlobs(digests, 0);
    return { ...base, recorded: before.filter((b) => b === undefined).length, ignored: [] };
  }
  const ignored = digests.filter((_, i) => {
    const shipped = before[i];
    return shipped === undefined || shipped < 1 || shipped > receipt.bundle.sequence;
  });
  return { ...base, recorded: 0, ignored };
}

async function applyResendRequest(ledger: ReceiptLedger, sourceId: string, request: ResendRequestDocument, where: string): Promise<ApplyOutcome> {
  if (request.sourceId !== sourceId) {
    throw new ReceiptError(where, `a resend request for source ${request.sourceId}: apply it on that source's export side (this one is ${sourceId})`);
  }
  const blobs: ResendRequest[] = request.missing.map((m) => {
    const source = m.neededBy[0]?.source;
    const from = source === undefined ? undefined : 'path' in source ? { repository: source.repository, path: source.path } : { repository: source.repository, name: source.name };
    return { digest: m.digest, size: m.size, ...(from !== undefined ? { from } : {}) };
  });
  await ledger.requestResend(blobs);
  return { kind: 'resend-request', sequence: request.bundle.sequence, requested: blobs.length };
}
