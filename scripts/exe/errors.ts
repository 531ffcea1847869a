/** Errors of the single-executable build (`npm run build:exe`). */
import { FerryError } from '../../shared/errors.ts';

export class ExeBuildError extends FerryError {
  override readonly name: string = 'ExeBuildError';
}

/** Bad options: the build exits 2 before it starts. */
export class ExeUsageError extends ExeBuildError {
  override readonly name = 'ExeUsageError';
}

/** A Node.js binary package that could not be fetched, or is not the one pinned. */
export class NodeBinaryError extends ExeBuildError {
  override readonly name = 'NodeBinaryError';
}

/** Bundling, blob generation or injection failed. */
export class SeaError extends ExeBuildError {
  override readonly name = 'SeaError';
}
