/** Errors of receipts and resend requests. */
import { FerryError } from '../../errors.ts';

/** A receipt file that cannot be trusted or read: `where` is its file name, first in the message. */
export class ReceiptError extends FerryError {
  override readonly name = 'ReceiptError';
  readonly where: string;
  constructor(where: string, problem: string, options?: { cause?: unknown }) {
    super(`${where}: ${problem}`, options);
    this.where = where;
  }
}
