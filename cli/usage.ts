/** Bad command-line usage; the CLI exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
