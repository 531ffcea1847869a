/**
 * Receipts travel back from the isolated side and tell the export side what the far side
 * now holds, so later bundles list those blobs as required instead of shipping them again.
 * The payload is signed as the exact bytes written in the file (`payload` is a JSON string),
 * so no canonicalisation is needed to verify it.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { isDigest, type Digest } from '../digest.ts';
import { verifyDetached, type DetachedSignature, type Signer } from '../signing.ts';
import { ReceiptError } from './errors.ts';

export const RECEIPT_FORMAT = 'ferry.receipt.v1';

export interface ReceiptEntry {
  index: number;
  repository: string;
  path: string;
  digest: Digest;
  outcome: 'imported' | 'present';
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
});

export async function encodeReceipt(receipt: Receipt, signer: Signer | undefined): Promise<string> {
  const payload = JSON.stringify(receipt);
  const file: ReceiptFile = { payload, signature: signer ? await signer.sign(Buffer.from(payload)) : null };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses a receipt file; when `trustedKeys` is given the signature must check out against one. */
export function decodeReceipt(text: string, where: string, trustedKeys?: KeyObject[]): Receipt {
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
  const parsed = receiptSchema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReceiptError(where, `payload.${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data as Receipt;
}
