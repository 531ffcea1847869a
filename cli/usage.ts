import { FerryError } from '../shared/errors.ts';

/** Bad command-line usage; the CLI exits 2. */
export class UsageError extends FerryError {
  override readonly name = 'UsageError';
}
