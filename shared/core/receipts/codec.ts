/**
 * What travels back from the isolated side, signed by it:
 *
 * - a **receipt** (`ferry.receipt.v1`) after each import: what the far side now holds, so
 *   later bundles list those blobs as required instead of shipping them again;
 * - a **resend request** (`ferry.resend-request.v1`) when an import stopped, before any
 *   write, because required blobs are neither held nor on the target (lost media, a wiped
 *   target, a wrong receipt): applied on the export side, the next bundle carries them.
 *
 * The payload is signed as the exact bytes written in the file (`payload` is a JSON string),
 * so no canonicalisation is needed to verify it.
 */
import type { KeyObject } from 'node:crypto';
import * as z from 'zod';
import { isDigest, type Digest } from '../../digest.ts';
import { issueMessage, issuePath } from '../../issues.ts';
import { verifyDetached, type DetachedSignature, type Signer } from '../../signing.ts';
import { ReceiptError } from './errors.ts';

export const RECEIPT_FORMAT = 'ferry.receipt.v1';

export interface ReceiptEntry {
  index: number;
  repository: string;
  path: string;
  digest: Digest;
  outcome: 'imported' | 'present';
}

/** What became of a tombstone: deleted, or kept (with why: never imported by Ferry, changed since, not there). */
export interface ReceiptDeletion {
  index: number;
  repository: string;
  path: string;
  digest: Digest;
  outcome: 'deleted' | 'kept';
  reason?: string | undefined;
}

export interface Receipt {
  format: typeof RECEIPT_FORMAT;
  sourceId: string;
  bundle: { name: string; digest: Digest; sequence: number };
  importedAt: string;
  entries: ReceiptEntry[];
  summary: { imported: number; present: number };
  /** Every blob the importer holds for this source after this import. */
  blobsHeld: { digest: Digest; size: number }[];
  /** The bundle's tombstones (ferry.bundle.v3), when it had any; they are not in `entries`. */
  deletions?: ReceiptDeletion[] | undefined;
}

export const RESEND_FORMAT = 'ferry.resend-request.v1';

/** Where an entry that needs a missing blob comes from on the export side. */
export type ResendSource = { repository: string; path: string } | { repository: string; name: string; tag: string };

export interface ResendRequestDocument {
  format: typeof RESEND_FORMAT;
  sourceId: string;
  /** The bundle that could not be imported for want of these blobs. */
  bundle: { name: string; digest: Digest; sequence: number };
  requestedAt: string;
  missing: {
    digest: Digest;
    size: number;
    /** As the bundle listed it: the bundle that shipped the blob, or 0 (a receipt said the far side held it). */
    shippedIn: number;
    /** Entries of the bundle that need it (index in the manifest and source coordinates). */
    neededBy: { index: number; source: ResendSource }[];
  }[];
}

export interface ReceiptFile {
  payload: string;
  signature: DetachedSignature | null;
}

const digest = z.string().refine(isDigest, 'expected sha256:<64 hex>');
const receiptSchema = z.object({
  format: z.literal(RECEIPT_FORMAT),
  sourceId: z.string().min(1),
  bundle: z.object({ name: z.string(), digest, sequence: z.number().int().min(1) }),
  importedAt: z.string(),
  entries: z.array(z.object({ index: z.number().int(), repository: z.string(), path: z.string(), digest, outcome: z.enum(['imported', 'present']) })),
  summary: z.object({ imported: z.number().int(), present: z.number().int() }),
  blobsHeld: z.array(z.object({ digest, size: z.number().int().min(0) })),
  deletions: z
    .array(z.object({ index: z.number().int(), repository: z.string(), path: z.string(), digest, outcome: z.enum(['deleted', 'kept']), reason: z.string().optional() }))
    .optional(),
});

const resendSource = z.union([
  z.object({ repository: z.string().min(1), path: z.string().startsWith('/') }).strict(),
  z.object({ repository: z.string().min(1), name: z.string().min(1), tag: z.string().min(1) }).strict(),
]);
const resendSchema = z.object({
  format: z.literal(RESEND_FORMAT),
  sourceId: z.string().min(1),
  bundle: z.object({ name: z.string(), digest, sequence: z.number().int().min(1) }),
  requestedAt: z.string(),
  missing: z
    .array(
      z.object({
        digest,
        size: z.number().int().min(0),
        shippedIn: z.number().int().min(0),
        neededBy: z.array(z.object({ index: z.number().int().min(0), source: resendSource })),
      }),
    )
    .min(1),
});

/** Either document the far side writes, as `ferry receipt apply` reads it. */
export type FarSideDocument = { kind: 'receipt'; receipt: Receipt } | { kind: 'resend-request'; request: ResendRequestDocument };

export async function encodeReceipt(receipt: Receipt | ResendRequestDocument, signer: Signer | undefined): Promise<string> {
  const payload = JSON.stringify(receipt);
  const file: ReceiptFile = { payload, signature: signer ? await signer.sign(Buffer.from(payload)) : null };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses a receipt file; when `trustedKeys` is given the signature must check out against one. */
export function decodeReceipt(text: string, where: string, trustedKeys?: KeyObject[]): Receipt {
  const document = decodeFarSideDocument(text, where, trustedKeys);
  if (document.kind !== 'receipt') throw new ReceiptError(where, `payload.format: expected ${RECEIPT_FORMAT}, this is a resend request`);
  return document.receipt;
}

/** Parses a receipt or a resend request; when `trustedKeys` is given the signature must check out against one. */
export function decodeFarSideDocument(text: string, where: string, trustedKeys?: KeyObject[]): FarSideDocument {
  let file: ReceiptFile;
  try {
    file = JSON.parse(text) as ReceiptFile;
  } catch (cause) {
    throw new ReceiptError(where, 'not JSON', { cause });
  }
  if (typeof file?.payload !== 'string') throw new ReceiptError(where, 'payload: required');
  if (trustedKeys !== undefined) {
    if (!file.signature) throw new ReceiptError(where, 'the receipt is not signed');
    try {
      verifyDetached(Buffer.from(file.payload), file.signature, trustedKeys);
    } catch (cause) {
      throw new ReceiptError(where, `signature refused: ${(cause as Error).message}`, { cause });
    }
  }
  let payload: unknown;
  try {
    payload = JSON.parse(file.payload);
  } catch (cause) {
    throw new ReceiptError(where, 'payload: not JSON text', { cause });
  }
  const format = (payload as { format?: unknown } | null)?.format;
  if (format === RESEND_FORMAT) return { kind: 'resend-request', request: parsed(resendSchema, payload, where) as ResendRequestDocument };
  return { kind: 'receipt', receipt: parsed(receiptSchema, payload, where) as Receipt };
}

function parsed<T>(schema: z.ZodType<T>, payload: unknown, where: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ReceiptError(where, issue === undefined ? 'payload: invalid' : `${issuePath(issue, 'payload', ['payload'])}: ${issueMessage(issue)}`);
  }
  return result.data;
}
