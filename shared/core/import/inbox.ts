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
  return withOpened(ports, async (open) => {
    const arrival = await open(key);
    let batch = [arrival];
    let reports: ImportReport[] | undefined;
    while (reports === undefined) {
      try {
        reports = await ports.importer.importBundles(batch);
      } catch (error) {
        const earlier = batch.length === 1 && error instanceof SequenceError ? await waitingBefore(ports.inbox, arrival, error.missingSequence) : undefined;
        if (earlier === undefined) throw await refused(ports, error);
        ports.log.info(`${arrival.name}: importing it together with ${earlier.length} earlier bundle(s) waiting in the inbox`);
        batch = [];
        for (const k of earlier) batch.push(await open(k));
        batch.push(arrival);
      }
    }
    return receipts(ports, batch, reports);
  });
}

/**
 * Imports the bundles at `keys` together, out of sequence where the chain has a gap (ops
 * asked for it, as `ferry import --allow-gap` does): a bundle lost for good, its blobs asked
 * for again by a resend request. Receipts and resend requests as {@link importFromInbox}.
 */
export async function importGapFromInbox(ports: InboxPorts, keys: readonly string[]): Promise<InboxImport[]> {
  return withOpened(ports, async (open) => {
    const batch = [];
    for (const key of keys) batch.push(await open(key));
    try {
      return await receipts(ports, batch, await ports.importer.importBundles(batch, { allowGap: true }));
    } catch (error) {
      throw await refused(ports, error);
    }
  });
}

/** Runs `work` with an opener whose bundles are all closed after it, whatever happened. */
async function withOpened<T>(ports: InboxPorts, work: (open: (key: string) => Promise<InboxBundle>) => Promise<T>): Promise<T> {
  const opened: InboxBundle[] = [];
  try {
    return await work(async (key) => {
      const bundle = await ports.inbox.open(key);
      opened.push(bundle);
      return bundle;
    });
  } finally {
    await Promise.all(opened.map((bundle) => bundle.close()));
  }
}

/** The error to throw, after leaving the resend requests a refusal for want of blobs carries. */
async function refused(ports: InboxPorts, error: unknown): Promise<unknown> {
  if (error instanceof BundleRefusedError || error instanceof MissingPartError) await leaveResendRequest(ports, error);
  return error;
}

/** A receipt beside the bundles for each bundle imported now. */
async function receipts(ports: InboxPorts, batch: InboxBundle[], reports: ImportReport[]): Promise<InboxImport[]> {
  const { inbox, receiptSigner, log } = ports;
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
    log.info(`${name}: imported sequence ${sequence}${report.gap ? ' out of sequence' : ''}`, { bundle: name, sequence, imported: report.imported, present: report.present, receipt: receipt.location });
    done.push({ key: bundleKey, report, receipt });
  }
  return done;
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
