/**
 * The bundle inbox: where bundles wait on the isolated side until they are imported, and
 * where the import leaves its receipts and resend requests for ops to carry back (the S3
 * inbox bucket of the import function; `shared/adapters/aws/s3-inbox.ts`). Its use is
 * `importFromInbox` (core/import/inbox.ts).
 */
import type { Readable } from 'node:stream';

/** A bundle of the inbox, opened for reading. */
export interface InboxBundle {
  /** Its file name, `<source id>-<sequence>.tar`. */
  readonly name: string;
  /** Where the inbox keeps it (an S3 key such as `bundles/corp-00000003.tar`). */
  readonly key: string;
  /** Its size in bytes. */
  readonly size: number;
  /** A fresh stream of all its bytes, as often as asked (the importer verifies from it). */
  open(): Promise<Readable>;
  /**
   * A stream of `length` bytes from `offset` (the importer uploads verified blobs from it).
   * Every read is of the bundle as it was when opened: one replaced since fails the read.
   */
  openRange(offset: number, length: number): Promise<Readable>;
  /** Frees what opening it took, if anything; the bundle stays in the inbox. */
  close(): Promise<void>;
}

/** A receipt or resend request written to the inbox. */
export interface InboxDocument {
  /** Its key in the inbox, e.g. `receipts/corp-00000003.receipt.json`. */
  key: string;
  /** Where it is, for people: `s3://bucket/key`. */
  location: string;
}

export interface BundleInbox {
  /** Opens the bundle at `key`. */
  open(key: string): Promise<InboxBundle>;
  /** The keys of the bundles named, waiting beside `near` (same folder), in the order given; undefined unless all are there. */
  waiting(names: readonly string[], near: string): Promise<string[] | undefined>;
  /** Writes a receipt or resend request (`name`, e.g. `corp-00000003.receipt.json`) for ops to carry back. */
  put(name: string, text: string): Promise<InboxDocument>;
}
