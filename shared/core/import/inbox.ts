/**
 * Importing from an inbox (the import function's S3 bucket): the bundle that arrived,
 * together with earlier ones waiting there when the chain needs them, and the documents
 * it leaves for ops to carry back.
 */
import { bundleFileName } from '../../bundle/index.ts';
import type { Signer } from '../../signing.ts';
import type { Log } from '../log.ts';
import type { BundleInbox, InboxBundle, InboxDocument } from '../ports/inbox.ts';
import { encodeReceipt } from '../receipts/codec.ts';
import { BundleRefusedError, MissingPartError, resendRequestsOf, SequenceError } from './errors.ts';
import type { Importer, ImportReport } from './importer.ts';

export interface InboxPorts {
  importer: Importer;
  inbox: BundleInbox;
  /** Signs receipts and resend requests, so the export side can trust them; unsigned without. */
  receiptSigner?: Signer | undefined;
  log: Log;
}

export interface InboxImport {
  key: string;
  report: ImportReport;
  /** The receipt written for it; none for a bundle imported before. */
  receipt?: InboxDocument | undefined;
}

/**
 * Imports the bundle at `key` of the inbox and writes a receipt for each bundle imported.
 * When its chain needs earlier bundles that are waiting in the inbox (one refused for want
 * of blobs that this one re-sends), they are imported together, in order. A refusal for
 * want of blobs (or of parts of one) leaves (signed) resend requests beside the receipts, one
 * per bundle refused, then throws.
 */
export async function importFromInbox(ports: InboxPorts, key: string): Promise<InboxImport[]> {
  const { importer, inbox, receiptSigner, log } = ports;
  const opened: InboxBundle[] = [];
  const open = async (k: string): Promise<InboxBundle> => {
    const bundle = await inbox.open(k);
    opened.push(bundle);
    return bundle;
  };
  try {
    const arrival = await open(key);
    let batch = [arrival];
    let reports: ImportReport[] | undefined;
    while (reports === undefined) {
      try {
        reports = await importer.importBundles(batch);
      } catch (error) {
        const earlier = batch.length === 1 && error instanceof SequenceError ? await waitingBefore(inbox, arrival, error.missingSequence) : undefined;
        if (earlier === undefined) {
          if (error instanceof BundleRefusedError || error instanceof MissingPartError) await leaveResendRequest(ports, error);
          throw error;
        }
        log.info(`${arrival.name}: importing it together with ${earlier.length} earlier bundle(s) waiting in the inbox`);
        batch = [];
        for (const k of earlier) batch.push(await open(k));
        batch.push(arrival);
      }
    }
    const done: InboxImport[] = [];
    for (const report of reports) {
      const { name, sequence } = report.bundle;
      const bundleKey = batch.find((b) => b.name === name)?.key ?? name;
      if (report.status === 'already-imported') {
        log.info(`${name}: already imported; nothing changed`, { bundle: name, sequence, importedAt: report.importedAt });
        done.push({ key: bundleKey, report });
        continue;
      }
      const receipt = await inbox.put(`${name.replace(/\.tar$/, '')}.receipt.json`, await encodeReceipt(report.receipt, receiptSigner));
      log.info(`${name}: imported sequence ${sequence}`, { bundle: name, sequence, imported: report.imported, present: report.present, receipt: receipt.location });
      done.push({ key: bundleKey, report, receipt });
    }
    return done;
  } finally {
    await Promise.all(opened.map((bundle) => bundle.close()));
  }
}

/** For a bundle refused for want of blobs: the resend request, beside the receipts, for ops to carry back. */
async function leaveResendRequest({ inbox, receiptSigner, log }: InboxPorts, refusal: BundleRefusedError | MissingPartError): Promise<void> {
  for (const { bundle, request } of resendRequestsOf(refusal)) {
    const written = await inbox.put(`${bundle.replace(/\.tar$/, '')}.resend-request.json`, await encodeReceipt(request, receiptSigner));
    log.error(`${bundle}: refused for want of ${request.missing.length} blob(s); wrote the resend request ${written.location} for ops to carry back`, { bundle });
  }
}

/** The inbox keys of the arrival's source from sequence `from` up to its own, or undefined unless all are waiting. */
async function waitingBefore(inbox: BundleInbox, arrival: InboxBundle, from: number | undefined): Promise<string[] | undefined> {
  const match = /^(.+)-(\d{8})\.tar$/.exec(arrival.name);
  if (match === null || from === undefined) return undefined;
  const [, sourceId, sequence] = match as unknown as [string, string, string];
  const names: string[] = [];
  try {
    for (let n = from; n < Number(sequence); n++) names.push(bundleFileName(sourceId, n));
  } catch {
    return undefined; // not a bundle name Ferry writes: nothing of its chain can be waiting
  }
  return names.length === 0 ? undefined : inbox.waiting(names, arrival.key);
}
